"""Kontor's HubSpot integration: two-way contact sync with the HubSpot CRM v3 API.

Pulling: a first sync lists every contact (``GET crm/v3/objects/contacts``, paged with
``after``). Later syncs ask the search API for contacts whose ``lastmodifieddate`` is at
or after the last round's mark, oldest change first, then list archived contacts to
report the ones deleted since (the search API never returns archived records).

Pushing: contacts changed in Kontor go out through the batch create and batch update
endpoints, 100 per call. Kontor settles conflicts before pushing (the newest change
wins); this plugin only sends and reports what HubSpot assigned or refused.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from app.integrations.hookspecs import hookimpl
from app.integrations.http import ProviderHTTP

from .push import PROPERTIES, push

__version__ = "1.0"

log = logging.getLogger(__name__)

CONTACTS = "crm/v3/objects/contacts"
SEARCH = "crm/v3/objects/contacts/search"
PAGE = 100
# The search API answers at most 10,000 results per query: asking for a page past that
# (after + limit > 10,000) is refused with a 400. A round that reaches the window starts
# the query again from the lastmodifieddate of the last record it saw (GTE, so records
# sharing that instant are read again, which the core's upsert makes harmless).
SEARCH_WINDOW = 10_000
# Each round starts from this long before the previous round began, so a change the
# search index had not caught up with yet (HubSpot indexes within seconds) or a clock
# difference between Kontor and HubSpot is picked up by the next round.
OVERLAP_MS = 5 * 60 * 1000

REQUESTED = ",".join([*PROPERTIES.values(), "lastmodifieddate"])
PUSH_EVENTS = frozenset({"created", "updated", "merged"})


@hookimpl
def describe_provider() -> dict[str, Any]:
    """HubSpot CRM, signed in with HubSpot OAuth 2.0 through its dated (2026-03) token
    endpoints: HubSpot retires the v1 ones (``/oauth/v1/token``, ``DELETE
    /oauth/v1/refresh-tokens/{token}``) on 2027-02-16. They take the client id and secret
    in the form body, not as HTTP Basic; revocation is an RFC 7009 form POST.
    """
    return {
        "name": "hubspot",
        "label": "HubSpot",
        "auth": "oauth2",
        "base_url": "https://api.hubapi.com/",
        "oauth": {
            "authorize_url": "https://app.hubspot.com/oauth/authorize",
            "token_url": "https://api.hubapi.com/oauth/2026-03/token",
            "revoke_url": "https://api.hubapi.com/oauth/2026-03/token/revoke",
            "client_auth": "client_secret_post",
            "scopes": ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write"],
        },
        "settings": [
            {
                "name": "push_changes",
                "label": "Send changes made in Kontor to HubSpot",
                "type": "bool",
                "default": True,
                "help": "Contacts created or edited in Kontor are created or updated in "
                "HubSpot. When two sides changed the same contact, the newest change wins.",
            }
        ],
        "sync_minutes": 30,
    }


@hookimpl
def identify_account(http: ProviderHTTP) -> dict[str, Any]:
    """The HubSpot portal (account) the token belongs to."""
    info = http.get("account-info/v3/details") or {}
    portal = info.get("portalId")
    details = {}
    if portal is not None:
        details["Portal"] = str(portal)
    if info.get("timeZone"):
        details["Time zone"] = str(info["timeZone"])
    label = f"HubSpot portal {portal}" if portal is not None else info.get("uiDomain") or "HubSpot"
    return {"label": label, "details": details}


@hookimpl
def pull_contacts(http: ProviderHTTP, cursor: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """One page of HubSpot contacts: all of them on a first sync, then those changed
    (searched by lastmodifieddate) and deleted (archived) since the last round.

    The cursor is ``{"phase": "list" | "search" | "archived", ...}``; the one the last
    page of a round answers (``{"phase": "search", "since": <ms>}``) starts the next.
    """
    if not isinstance(cursor, dict):
        cursor = {"phase": "list", "started": _now_ms()}
    phase = cursor.get("phase")
    if phase == "list":
        return _list_page(http, cursor)
    if phase == "archived":
        return _archived_page(http, cursor)
    return _search_page(http, cursor)


@hookimpl
def push_contacts(
    http: ProviderHTTP, contacts: list[dict[str, Any]], settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """Create (no remote id) or update (remote id) the contacts in HubSpot, 100 per
    batch call; answer the ids and update times HubSpot assigned, or an error each."""
    if not (settings or {}).get("push_changes", True):
        return []
    return push(http, contacts)


@hookimpl
def contact_event(event: dict[str, Any], settings: dict[str, Any]) -> list[str] | None:
    """Push contacts created, updated or merged in Kontor, unless the change came from
    this very sync (it would only echo HubSpot's own values back)."""
    if not (settings or {}).get("push_changes", True):
        return None
    if event.get("kind") not in PUSH_EVENTS or event.get("via") == "sync:hubspot":
        return None
    return ["push_contacts"]


# --------------------------------------------------------------------------- pulling


def _list_page(http: ProviderHTTP, cursor: dict[str, Any]) -> dict[str, Any]:
    params = {"limit": PAGE, "properties": REQUESTED, "archived": "false"}
    if cursor.get("after"):
        params["after"] = cursor["after"]
    body = http.get(CONTACTS, params=params) or {}
    records = [r for r in map(_record, body.get("results") or []) if r is not None]
    after = _next_after(body)
    if after:
        return {"contacts": records, "cursor": {**cursor, "after": after}, "more": True}
    since = int(cursor.get("started") or _now_ms()) - OVERLAP_MS
    return {"contacts": records, "cursor": {"phase": "search", "since": since}, "more": False}


def _search_page(http: ProviderHTTP, cursor: dict[str, Any]) -> dict[str, Any]:
    if "started" not in cursor:  # a new round
        cursor = {"phase": "search", "since": int(cursor.get("since") or 0)}
        cursor.update(started=_now_ms(), round_since=cursor["since"])
    since = int(cursor["since"])
    after = cursor.get("after")
    query: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": REQUESTED.split(","),
        "limit": PAGE,
    }
    if after:
        query["after"] = after
    body = http.post(SEARCH, json=query) or {}
    results = body.get("results") or []
    records = [r for r in map(_record, results) if r is not None]
    after = _next_after(body)
    if after and (not after.isdigit() or int(after) + PAGE > SEARCH_WINDOW):
        restart = _modified_ms(results[-1]) if results else None
        if restart is None or restart <= since:
            # More than a window's worth of contacts changed in the same millisecond:
            # move past it rather than read the same window forever.
            log.warning("hubspot: over %d contacts modified at %d ms", SEARCH_WINDOW, since)
            restart = since + 1
        nxt = {**cursor, "since": restart}
        nxt.pop("after", None)
        return {"contacts": records, "cursor": nxt, "more": True}
    if after:
        return {"contacts": records, "cursor": {**cursor, "after": after}, "more": True}
    nxt = {
        "phase": "archived",
        "started": cursor["started"],
        "round_since": cursor["round_since"],
    }
    return {"contacts": records, "cursor": nxt, "more": True}


def _archived_page(http: ProviderHTTP, cursor: dict[str, Any]) -> dict[str, Any]:
    """Contacts archived (deleted) since the round's mark. HubSpot keeps archived
    contacts for 90 days, which bounds this listing."""
    params = {"limit": PAGE, "properties": "email", "archived": "true"}
    if cursor.get("after"):
        params["after"] = cursor["after"]
    body = http.get(CONTACTS, params=params) or {}
    mark = int(cursor.get("round_since") or 0)
    records = []
    for item in body.get("results") or []:
        when = _ms(item.get("archivedAt"))
        if item.get("id") and (when is None or when >= mark):
            records.append(
                {
                    "remote_id": str(item["id"]),
                    "email": (item.get("properties") or {}).get("email"),
                    "remote_updated_at": item.get("archivedAt") or item.get("updatedAt"),
                    "deleted": True,
                }
            )
    after = _next_after(body)
    if after:
        return {"contacts": records, "cursor": {**cursor, "after": after}, "more": True}
    since = max(mark, int(cursor["started"]) - OVERLAP_MS)
    return {"contacts": records, "cursor": {"phase": "search", "since": since}, "more": False}


def _record(item: dict[str, Any]) -> dict[str, Any] | None:
    """A Kontor record from a HubSpot contact; None for one without an email address
    (Kontor needs one), unless it reports a deletion."""
    props = item.get("properties") or {}
    email = (props.get("email") or "").strip()
    archived = bool(item.get("archived"))
    if not item.get("id") or (not email and not archived):
        return None
    record: dict[str, Any] = {"remote_id": str(item["id"])}
    for field, prop in PROPERTIES.items():
        if prop in props:  # "" and null both mean HubSpot has no value
            record[field] = props[prop] if props[prop] != "" else None
    record["email"] = email or None
    record["remote_updated_at"] = item.get("updatedAt") or props.get("lastmodifieddate")
    record["deleted"] = archived
    return record


def _next_after(body: dict[str, Any]) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _modified_ms(item: dict[str, Any]) -> int | None:
    props = item.get("properties") or {}
    return _ms(props.get("lastmodifieddate")) or _ms(item.get("updatedAt"))


def _ms(value: Any) -> int | None:
    """Epoch milliseconds from HubSpot's ISO 8601 times (or a millisecond string)."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _now_ms() -> int:
    return int(time.time() * 1000)
