"""Microsoft Graph plumbing for the outlook plugin: delta rounds and Graph's error shapes.

A delta round starts with a plain request (``.../delta`` with ``$select`` and, for
messages, ``$filter``), then follows ``@odata.nextLink`` page by page until a page carries
``@odata.deltaLink``; that link starts the next round and answers only what changed.
Both links are absolute URLs with the query already encoded in their tokens.
"""

from __future__ import annotations

import logging
from typing import Any

from app.integrations.http import ProviderError, ProviderHTTP

log = logging.getLogger(__name__)

NEXT_LINK = "@odata.nextLink"
DELTA_LINK = "@odata.deltaLink"
REMOVED = "@removed"

# Error codes Graph answers when a delta or skip token can no longer be used; the client
# has to start over with a full round. Graph spells them with varying case.
RESYNC_CODES = ("syncstatenotfound", "resyncrequired", "syncstateinvalid")
RESYNC_WORDS = ("sync state", "resync", "delta token", "deltatoken", "skiptoken")


def needs_resync(exc: ProviderError) -> bool:
    """True when Graph refused a delta/skip token (410 Gone, or a 4xx naming
    ``syncStateNotFound`` / ``resyncRequired``): the round must restart from scratch."""
    if exc.status == 410:
        return True
    if not 400 <= exc.status < 500 or exc.status in (401, 403, 429):
        return False
    code = str(getattr(exc, "code", "") or "").lower()
    text = f"{code} {exc.message}".lower()
    return any(c in text for c in RESYNC_CODES) or any(w in text for w in RESYNC_WORDS)


def delta_page(
    http: ProviderHTTP,
    link: str | None,
    path: str,
    params: dict[str, str],
    page_size: int,
) -> dict[str, Any]:
    """GET one page of a delta round: from `link` (a next or delta link) when given, else
    a new full round at `path` with `params`. A link Graph no longer accepts starts a new
    full round instead (records already seen come again; Kontor upserts them)."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}"}
    if link:
        try:
            return _page(http, http.get(link, headers=headers))
        except ProviderError as exc:
            if not needs_resync(exc):
                raise
            log.info("Graph refused a delta token (%s); starting a full sync", exc.message)
    return _page(http, http.get(path, params=params, headers=headers))


def _page(http: ProviderHTTP, body: Any) -> dict[str, Any]:
    """``{"value", "link", "done"}`` from a delta answer; `link` is the next link (done
    False) or the delta link (done True), checked to fall under the base URL."""
    if not isinstance(body, dict):
        raise ProviderError("Microsoft Graph answered a delta page that is not an object")
    value = [item for item in body.get("value") or [] if isinstance(item, dict)]
    if body.get(NEXT_LINK):
        link, done = body[NEXT_LINK], False
    elif body.get(DELTA_LINK):
        link, done = body[DELTA_LINK], True
    else:
        raise ProviderError(
            "Microsoft Graph answered a delta page with neither a next nor a delta link"
        )
    # Refuse a link outside the provider's base URL now, before it is saved as a cursor.
    http.url(str(link))
    return {"value": value, "link": str(link), "done": done}
