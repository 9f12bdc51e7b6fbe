"""Kontor's Google integration: People API contacts and Gmail messages on the timeline.

Contacts come from ``people/me/connections``: a first full listing asks for a sync token,
later syncs send it and get only the people changed (deleted ones flagged). Mail comes
from Gmail with the ``gmail.metadata`` scope (headers and labels, never bodies): a first
sync lists the last ``mail_days`` days of messages and reads each one's headers; later
syncs read the mailbox history (``messageAdded``) since the history id saved then.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from app.integrations.hookspecs import hookimpl
from app.integrations.http import ProviderError, ProviderHTTP

from .mail import HEADERS, SKIPPED_LABELS, activity_record
from .people import PERSON_FIELDS, contact_record

__version__ = "1.0"

PROFILE = "gmail/v1/users/me/profile"
MESSAGES = "gmail/v1/users/me/messages"
HISTORY = "gmail/v1/users/me/history"
CONNECTIONS = "v1/people/me/connections"
CONTACTS_PAGE = 200
MESSAGES_PAGE = 100
DAY_MS = 86_400_000


@hookimpl
def describe_provider() -> dict[str, Any]:
    """Google: People API (contacts) and Gmail API (message metadata), over OAuth 2.0
    with offline access so Kontor gets a refresh token."""
    return {
        "name": "gmail",
        "label": "Google (Gmail)",
        "auth": "oauth2",
        "base_url": "https://gmail.googleapis.com/",
        "extra_base_urls": {"people": "https://people.googleapis.com/"},
        "oauth": {
            "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
            "token_url": "https://oauth2.googleapis.com/token",
            "revoke_url": "https://oauth2.googleapis.com/revoke",
            "scopes": [
                "openid",
                "email",
                "https://www.googleapis.com/auth/contacts.readonly",
                "https://www.googleapis.com/auth/gmail.metadata",
            ],
            "authorize_params": {"access_type": "offline", "prompt": "consent"},
        },
        "settings": [
            {
                "name": "create_contacts",
                "label": "Create contacts for unknown correspondents",
                "type": "bool",
                "default": False,
                "help": "People you exchange mail with become contacts "
                "(never mailing lists or no-reply senders).",
            },
            {
                "name": "mail_days",
                "label": "Days of mail to read on the first sync",
                "type": "int",
                "default": 90,
                "help": "How far back the first mail sync reads; later syncs read new mail only.",
            },
        ],
        "sync_minutes": 15,
    }


@hookimpl
def identify_account(http: ProviderHTTP) -> dict[str, Any]:
    """The Gmail address of the account, with its message and thread counts."""
    profile = http.get(PROFILE) or {}
    details = {}
    if profile.get("messagesTotal") is not None:
        details["Messages"] = str(profile["messagesTotal"])
    if profile.get("threadsTotal") is not None:
        details["Threads"] = str(profile["threadsTotal"])
    return {"label": profile.get("emailAddress"), "details": details}


# --------------------------------------------------------------------------- contacts


def _sync_token_expired(exc: ProviderError) -> bool:
    """Google documents 410 for an expired sync token; the API also answers 400
    FAILED_PRECONDITION "Sync token is expired" (reason EXPIRED_SYNC_TOKEN)."""
    text = exc.message.lower()
    return exc.status == 410 or (
        exc.status == 400 and ("expired_sync_token" in text or "sync token is expired" in text)
    )


def _connections(http: ProviderHTTP, cursor: dict[str, Any]) -> dict[str, Any]:
    # Every page of a listing repeats the first call's parameters (the API requires it);
    # requestSyncToken on incremental calls too, or the last page carries no new token.
    params: dict[str, Any] = {
        "personFields": PERSON_FIELDS,
        "pageSize": CONTACTS_PAGE,
        "requestSyncToken": "true",
    }
    if cursor.get("sync"):
        params["syncToken"] = cursor["sync"]
    if cursor.get("page"):
        params["pageToken"] = cursor["page"]
    return http.get(CONNECTIONS, params=params, base="people") or {}


@hookimpl
def pull_contacts(http: ProviderHTTP, cursor: Any) -> dict[str, Any]:
    """One page of the user's Google contacts (``people/me/connections``).

    The cursor is ``{"page": ...}`` during a full listing, ``{"sync": ..., "page": ...}``
    during an incremental one and ``{"sync": ...}`` between syncs. An expired sync
    token (valid for 7 days) restarts a full listing. People without an email address
    are skipped: Kontor requires one. Deleted people come as ``{"remote_id", "deleted":
    True}``. Values Google does not have are left out, so they never clear Kontor's.
    """
    cursor = dict(cursor) if isinstance(cursor, dict) else {}
    try:
        body = _connections(http, cursor)
    except ProviderError as exc:
        if not (cursor.get("sync") or cursor.get("page")) or not _sync_token_expired(exc):
            raise
        cursor = {}
        body = _connections(http, cursor)
    records = [r for r in map(contact_record, body.get("connections") or []) if r]
    if body.get("nextPageToken"):
        following = {"page": body["nextPageToken"]}
        if cursor.get("sync"):
            following["sync"] = cursor["sync"]
        return {"contacts": records, "cursor": following, "more": True}
    token = body.get("nextSyncToken")
    return {"contacts": records, "cursor": {"sync": token} if token else None, "more": False}


# --------------------------------------------------------------------------- mail


def _message(http: ProviderHTTP, message_id: str) -> dict[str, Any] | None:
    """One message's metadata, or None when it is gone (deleted since it was listed)."""
    try:
        return http.get(
            f"{MESSAGES}/{quote(str(message_id), safe='')}",
            params={"format": "metadata", "metadataHeaders": list(HEADERS)},
        )
    except ProviderError as exc:
        if exc.status == 404:
            return None
        raise


def _mail_days(settings: dict[str, Any] | None) -> int:
    try:
        return max(1, int((settings or {}).get("mail_days") or 90))
    except (TypeError, ValueError):
        return 90


def _full_page(
    http: ProviderHTTP, cursor: dict[str, Any], settings: Any, own: set[str]
) -> dict[str, Any]:
    """One page of the listing of recent mail (newest first) down to ``after``."""
    full = cursor.get("full")
    newest = int(cursor.get("newest") or 0)
    if not isinstance(full, dict):
        # The history id from before the listing: mail arriving meanwhile is read by
        # the next history sync (a message read twice keeps its external id).
        profile = http.get(PROFILE) or {}
        if profile.get("emailAddress"):
            own = own | {str(profile["emailAddress"]).lower()}
        after = int(time.time() * 1000) - _mail_days(settings) * DAY_MS
        if newest:  # a fallback from an expired history id: back to the last mail seen
            after = max(after, newest - DAY_MS)
        full = {"after": after}
        cursor = {"history_id": profile.get("historyId"), "newest": newest or None}
    # No "q" (newer_than:...): Gmail refuses it with the gmail.metadata scope, so the
    # listing runs newest first and stops at the first message older than the window.
    params: dict[str, Any] = {"maxResults": MESSAGES_PAGE}
    if full.get("page"):
        params["pageToken"] = full["page"]
    body = http.get(MESSAGES, params=params) or {}
    activities: list[dict[str, Any]] = []
    reached_end = False
    for ref in body.get("messages") or []:
        message = _message(http, ref["id"])
        if message is None:
            continue
        when = int(message.get("internalDate") or 0)
        if 0 < when < full["after"]:
            reached_end = True
            break
        newest = max(newest, when)
        record = activity_record(message, own)
        if record is not None:
            activities.append(record)
    if body.get("nextPageToken") and not reached_end:
        following = {**cursor, "full": {**full, "page": body["nextPageToken"]}}
        following["newest"] = newest or None
        return {"activities": activities, "cursor": following, "more": True}
    done = {"history_id": cursor.get("history_id"), "newest": newest or None}
    return {"activities": activities, "cursor": done, "more": False}


def _history_page(http: ProviderHTTP, cursor: dict[str, Any], own: set[str]) -> dict[str, Any]:
    """One page of the mailbox history (messages added) since ``history_id``."""
    params: dict[str, Any] = {
        "startHistoryId": cursor["history_id"],
        "historyTypes": "messageAdded",
        "maxResults": MESSAGES_PAGE,
    }
    if cursor.get("page"):
        params["pageToken"] = cursor["page"]
    body = http.get(HISTORY, params=params) or {}
    ids: list[str] = []
    for item in body.get("history") or []:
        for added in item.get("messagesAdded") or []:
            ref = added.get("message") or {}
            if set(ref.get("labelIds") or []) & SKIPPED_LABELS:
                continue  # a draft saved, spam: not worth a request
            if ref.get("id") and ref["id"] not in ids:
                ids.append(ref["id"])
    newest = int(cursor.get("newest") or 0)
    activities: list[dict[str, Any]] = []
    for message_id in ids:
        message = _message(http, message_id)
        if message is None:
            continue
        newest = max(newest, int(message.get("internalDate") or 0))
        record = activity_record(message, own)
        if record is not None:
            activities.append(record)
    if body.get("nextPageToken"):
        following = {**cursor, "page": body["nextPageToken"], "newest": newest or None}
        return {"activities": activities, "cursor": following, "more": True}
    done = {"history_id": body.get("historyId") or cursor["history_id"], "newest": newest or None}
    return {"activities": activities, "cursor": done, "more": False}


@hookimpl
def pull_activities(
    http: ProviderHTTP, cursor: Any, settings: dict[str, Any], account: dict[str, Any]
) -> dict[str, Any]:
    """One page of mail sent and received, as timeline activities.

    A first sync lists the last ``mail_days`` days (100 messages a page, each read with
    ``format=metadata``); it saves the mailbox's history id, and later syncs read the
    history since then. When Google no longer has that history (404, after about a
    week) the listing runs again back to the newest mail already read. Drafts, spam,
    trash and chat are skipped. ``people`` leaves out the account's own address.
    """
    cursor = dict(cursor) if isinstance(cursor, dict) else {}
    label = (account or {}).get("label")
    own = {str(label).lower()} if label else set()
    if isinstance(cursor.get("full"), dict) or not cursor.get("history_id"):
        return _full_page(http, cursor, settings, own)
    try:
        return _history_page(http, cursor, own)
    except ProviderError as exc:
        if exc.status != 404:
            raise
        return _full_page(http, {"newest": cursor.get("newest")}, settings, own)
