"""Kontor's Microsoft (Outlook) integration, over Microsoft Graph v1.0.

Contacts come from the contacts delta query, mail from the message delta queries of the
Inbox and Sent Items folders: after a first full round only changes travel, and Graph's
``@odata.deltaLink`` is the cursor Kontor stores. Sign-in is OAuth 2.0 against the
Microsoft identity platform (``common`` tenant: work, school and personal accounts).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from app.integrations.hookspecs import hookimpl
from app.integrations.http import ProviderHTTP

from .graph import REMOVED, delta_page

__version__ = "1.0"

CONTACT_FIELDS = (
    "id,emailAddresses,givenName,middleName,surname,displayName,jobTitle,companyName,"
    "department,businessPhones,mobilePhone,homePhones,businessAddress,birthday,"
    "lastModifiedDateTime"
)
MESSAGE_FIELDS = (
    "subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,bodyPreview,"
    "internetMessageId"
)
FOLDERS = ("inbox", "sentitems")
CONTACTS_PAGE = 100
MESSAGES_PAGE = 50

AUTOMATED_LOCAL = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?"
    r"|notifications?|notify|alerts?)(?:[-+_.].*)?$"
    r"|no[-_.]?reply",
    re.IGNORECASE,
)


@hookimpl
def describe_provider() -> dict[str, Any]:
    """Microsoft Graph, signed in through the Microsoft identity platform.

    No ``revoke_url``: the identity platform has no token revocation endpoint; a user
    removes Kontor's access from their account's app permissions page instead.
    """
    return {
        "name": "outlook",
        "label": "Microsoft (Outlook)",
        "auth": "oauth2",
        "base_url": "https://graph.microsoft.com/v1.0/",
        "oauth": {
            "authorize_url": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "scopes": ["offline_access", "User.Read", "Contacts.Read", "Mail.Read"],
        },
        "settings": [
            {
                "name": "create_contacts",
                "label": "Create contacts for new correspondents",
                "type": "bool",
                "default": False,
                "help": "Add people you exchange mail with who are not contacts yet "
                "(never for no-reply or notification senders).",
            },
            {
                "name": "mail_days",
                "label": "Days of mail to import on the first sync",
                "type": "int",
                "default": 90,
                "help": "Later syncs fetch only new mail. 0 imports the whole mailbox.",
            },
        ],
        "sync_minutes": 15,
    }


@hookimpl
def identify_account(http: ProviderHTTP) -> dict[str, Any]:
    """The signed-in user: their mail address (or sign-in name) and display name."""
    me = http.get("me", params={"$select": "displayName,mail,userPrincipalName"}) or {}
    label = me.get("mail") or me.get("userPrincipalName") or ""
    details = {"Name": me["displayName"]} if me.get("displayName") else {}
    return {"label": label, "details": details}


@hookimpl
def pull_contacts(http: ProviderHTTP, cursor: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """One page of the contacts delta (``me/contacts/delta``, the default Contacts
    folder). The cursor is ``{"next": link}`` inside a round and ``{"delta": link}``
    once a round is complete. Removed contacts come back as ``deleted`` records; an
    expired delta token restarts with a full round. Contacts without an email address
    are left out (Kontor keys contacts by email)."""
    link = _link(cursor, "next") or _link(cursor, "delta")
    page = delta_page(http, link, "me/contacts/delta", {"$select": CONTACT_FIELDS}, CONTACTS_PAGE)
    records = []
    for item in page["value"]:
        if not item.get("id"):
            continue
        if REMOVED in item:
            records.append({"remote_id": item["id"], "deleted": True})
            continue
        record = contact_record(item)
        if record is not None:
            records.append(record)
    key = "delta" if page["done"] else "next"
    return {"contacts": records, "cursor": {key: page["link"]}, "more": not page["done"]}


@hookimpl
def pull_activities(
    http: ProviderHTTP, cursor: Any, settings: dict[str, Any], account: dict[str, Any]
) -> dict[str, Any]:
    """One page of mail from the message deltas of Inbox and Sent Items.

    The cursor is ``{"links": {folder: next-or-delta link}, "pending": [folders]}``:
    a sync walks each pending folder's delta round to its end, Inbox first. The first
    round of a folder asks for mail received in the last ``mail_days`` days. Messages
    Graph reports removed are ignored (the timeline keeps what happened).

    Graph's delta query does not return ``internetMessageHeaders`` (no
    ``List-Unsubscribe`` or ``Auto-Submitted``), so automated mail is recognised by its
    sender's address only (noreply, donotreply, mailer-daemon, notifications@, ...).
    """
    state = cursor if isinstance(cursor, dict) else {}
    raw_links = state.get("links")
    links = {f: v for f, v in (raw_links or {}).items() if f in FOLDERS and isinstance(v, str)}
    pending = [f for f in state.get("pending") or [] if f in FOLDERS] or list(FOLDERS)
    folder = pending[0]
    page = delta_page(
        http,
        links.get(folder),
        f"me/mailFolders/{folder}/messages/delta",
        _message_params(settings),
        MESSAGES_PAGE,
    )
    links[folder] = page["link"]
    if page["done"]:
        pending = pending[1:]
    own = str(account.get("label") or "").strip().lower()
    activities = []
    for item in page["value"]:
        if REMOVED in item or not item.get("id"):
            continue
        activities.append(message_record(item, folder, own))
    return {
        "activities": activities,
        "cursor": {"links": links, "pending": pending},
        "more": bool(pending),
    }


def contact_record(item: dict[str, Any]) -> dict[str, Any] | None:
    """A Kontor contact record from a Graph contact, or None when it has no email."""
    emails = _unique(
        str((e or {}).get("address") or "").strip() for e in item.get("emailAddresses") or []
    )
    if not emails:
        return None
    business = [p for p in item.get("businessPhones") or [] if p]
    home = [p for p in item.get("homePhones") or [] if p]
    record: dict[str, Any] = {
        "remote_id": item["id"],
        "email": emails[0],
        "secondary_emails": emails[1:],
        "first_name": item.get("givenName") or None,
        "middle_name": item.get("middleName") or None,
        "last_name": item.get("surname") or None,
        "job_title": item.get("jobTitle") or None,
        "company": item.get("companyName") or None,
        "department": item.get("department") or None,
        "phone": business[0] if business else None,
        "mobile_phone": item.get("mobilePhone") or None,
        "home_phone": home[0] if home else None,
        "secondary_phones": business[1:] + home[1:],
        "remote_updated_at": item.get("lastModifiedDateTime"),
    }
    if item.get("birthday"):
        record["birthday"] = str(item["birthday"])[:10]
    address = item.get("businessAddress") or {}
    if any(address.get(k) for k in ("street", "city", "state", "postalCode")):
        lines = str(address.get("street") or "").splitlines()
        record.update(
            address_line1=lines[0] if lines else None,
            address_line2=", ".join(lines[1:]) or None,
            city=address.get("city") or None,
            state=address.get("state") or None,
            postcode=address.get("postalCode") or None,
        )
        country = str(address.get("countryOrRegion") or "").strip()
        if len(country) == 2 and country.isalpha():  # Graph's field is free text
            record["country"] = country.upper()
    return record


def message_record(item: dict[str, Any], folder: str, own: str = "") -> dict[str, Any]:
    """A Kontor activity record from a Graph message found in `folder`; `own` is the
    account's address (lower case), left out of ``people``."""
    sent = folder == "sentitems"
    sender = _address(item.get("from"))
    people: list[dict[str, Any]] = []
    seen = {own} if own else set()
    recipients = [*(item.get("toRecipients") or []), *(item.get("ccRecipients") or [])]
    for person in [sender, *map(_address, recipients)]:
        if person is None or person["email"].lower() in seen:
            continue
        seen.add(person["email"].lower())
        people.append(person)
    message_id = item.get("internetMessageId") or item["id"]
    when = item.get("sentDateTime") if sent else item.get("receivedDateTime")
    return {
        "external_id": f"outlook:{message_id}",
        "kind": "email_sent" if sent else "email_received",
        "occurred_at": when or item.get("receivedDateTime") or item.get("sentDateTime"),
        "subject": item.get("subject") or "",
        "body": item.get("bodyPreview") or "",
        "data": {
            "folder": folder,
            "graph_id": item["id"],
            "internet_message_id": item.get("internetMessageId"),
            "from": sender["email"] if sender else None,
        },
        "people": people,
        "automated": bool(not sent and sender and is_automated(sender["email"])),
    }


def is_automated(address: str) -> bool:
    """True for no-reply, bounce and notification senders (by address alone)."""
    local = address.rpartition("@")[0] or address
    return bool(AUTOMATED_LOCAL.search(local))


def _message_params(settings: dict[str, Any]) -> dict[str, str]:
    """Query of a folder's first delta round: the fields, and the mail_days window
    (Graph's message delta accepts ``$filter`` on ``receivedDateTime ge``)."""
    params = {"$select": MESSAGE_FIELDS}
    try:
        days = int((settings or {}).get("mail_days", 90) or 0)
    except (TypeError, ValueError):
        days = 90
    if days > 0:
        since = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
        params["$filter"] = f"receivedDateTime ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return params


def _link(cursor: Any, key: str) -> str | None:
    if isinstance(cursor, dict) and isinstance(cursor.get(key), str):
        return cursor[key]
    return None


def _address(recipient: Any) -> dict[str, Any] | None:
    """``{"email", "name"}`` from a Graph recipient (``{"emailAddress": {...}}``)."""
    inner = (recipient or {}).get("emailAddress") if isinstance(recipient, dict) else None
    email = str((inner or {}).get("address") or "").strip()
    if "@" not in email:
        return None
    name = str(inner.get("name") or "").strip()
    return {"email": email, "name": name if name and name.lower() != email.lower() else None}


def _unique(values) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and "@" in value and value.lower() not in {v.lower() for v in out}:
            out.append(value)
    return out
