"""Talking to Hunter's API v2 through the account's ``http``: the API key sent in Hunter's
``X-API-KEY`` request header (never in the URL, which urllib3 logs at DEBUG level and
errors quote), Hunter's 403 (its per-second rate limit) retried, its 429 (the plan's
monthly credits used up) raised at once as QuotaExhausted, verifications still running
(202) polled, and every error message cleaned of the key.

Hunter answers ``{"data": ..., "meta": ...}`` and, on error, ``{"errors": [{"id", "code",
"details"}]}``. Its documented codes: 202 verification in progress, 222 verification failed
(the remote mail server misbehaved), 400 bad parameters, 401 no valid key, 403 rate limit,
404 nothing found, 429 usage limit reached (no retry can help until the credits renew),
451 the person asked not to be processed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from app.integrations.http import RETRIED, NeedsReconnect, ProviderError, QuotaExhausted

KEY = "api_key"  # the account secret's name (the form field), not a query parameter
HEADER = "X-API-KEY"
RATE_LIMIT_RETRIES = 3  # Hunter's 403: slow down and try again
POLLS = 3  # a verification still running (202): ask again this many times
POLL_WAIT = 5.0  # seconds between those questions
MASK = "[api key]"
USAGE_LIMIT = 429  # the monthly credits are used up: not retried


def api_key(http: Any) -> str:
    """The account's Hunter API key; a missing key means the account must be connected again."""
    key = (getattr(http, "secrets", None) or {}).get(KEY)
    if not key:
        raise NeedsReconnect("No Hunter API key is stored for this account.", 401)
    return str(key)


def scrub(text: str, key: str) -> str:
    """`text` with the API key masked (a provider message may echo it), when the key is
    long enough not to be an ordinary word (Hunter's keys are 40 characters)."""
    return text.replace(key, MASK) if len(key) >= 8 else text


def _clean(error: ProviderError, key: str) -> ProviderError:
    """A copy of `error` (same class, status and retry_after) whose message cannot carry
    the key and reads Hunter's own words rather than its JSON."""
    return type(error)(scrub(_details(error.message), key), error.status, error.retry_after)


def _details(message: str) -> str:
    """Hunter's ``details`` when `message` is the text of an ``{"errors": [...]}`` body."""
    if not message.startswith(("{'errors'", '{"errors"')):
        return message
    try:
        body = ast.literal_eval(message)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return message
    details = [str(e["details"]) for e in errors_of(body) if e.get("details")]
    return "; ".join(details) or message


def get(http: Any, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """GET `path` with `params` (the key only in the ``X-API-KEY`` header); answer the
    parsed JSON body.

    Raises ProviderError (NeedsReconnect for a refused key, QuotaExhausted when the
    monthly credits are used up) with the key masked in its message and no chained
    exception.
    """
    key = api_key(http)
    query = {k: v for k, v in (params or {}).items() if v is not None}
    attempt = 0
    while True:
        try:
            return http.get(
                path, params=query, headers={HEADER: key}, retry=RETRIED - {USAGE_LIMIT}
            )
        except ProviderError as exc:
            error = exc
        if error.status == 403 and attempt < RATE_LIMIT_RETRIES:
            http.sleep(float(2**attempt))
            attempt += 1
            continue
        if error.status == USAGE_LIMIT:
            error = QuotaExhausted(error.message, error.status, error.retry_after, error.code)
        # Raised outside the except block: no __context__ pointing at the original.
        raise _clean(error, key)


def errors_of(body: Any) -> list[dict[str, Any]]:
    """Hunter's ``errors`` list from a body, or []."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [e for e in body["errors"] if isinstance(e, dict)]
    return []


def data_of(body: Any) -> dict[str, Any] | None:
    """Hunter's ``data`` object from a body, or None."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"]
    return None
