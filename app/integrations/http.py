"""The HTTP client a plugin gets: requests only under the provider's base URLs, JSON in
and out, 429 and 5xx retried with backoff honouring Retry-After, and OAuth tokens
refreshed by authlib (a refused refresh means the account needs reconnecting).

Plugins use it as ``http``; they never build their own sessions, so every request of
every plugin follows the same rules.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

TIMEOUT = 30
RETRIED = frozenset({429, 500, 502, 503, 504})


class ProviderError(Exception):
    """The provider answered with an error (or not at all); ``status`` is its HTTP
    status (0 when there was no answer) and ``retry_after`` the seconds it asked us to
    wait, when it did."""

    def __init__(
        self,
        message: str,
        status: int = 0,
        retry_after: float | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.code = code


class NeedsReconnect(ProviderError):
    """The provider refused the account's credentials (a refresh was refused, or the
    token or API key is no longer valid): the user has to connect it again."""


class QuotaExhausted(ProviderError):
    """The account's usage quota at the provider is used up (monthly credits, say):
    retrying now cannot help; requests work again once it renews or grows."""


class OutsideBaseURL(ProviderError):
    """A request to a URL outside the provider's configured base URLs was refused."""


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error_code(response: requests.Response) -> str | None:
    """The provider's own error code from the usual JSON shapes, if any."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("status")
        return str(code) if code is not None else None
    for key in ("code", "category", "error"):
        if isinstance(body.get(key), str | int):
            return str(body[key])
    return None


def _message(response: requests.Response) -> str:
    """The provider's own error message, from the usual JSON shapes, else the text."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return text[:300] or response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or error)[:300]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("details") or first.get("message") or first)[:300]
        for key in ("message", "error_description", "error", "details"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


class ProviderHTTP:
    """JSON over HTTP to one provider for one account.

    ``base_urls`` maps names to base URLs (``"default"`` first; a plain list is taken as
    default + others); a relative path is joined to ``bases[base]``. ``session`` is a
    requests session; for OAuth accounts an authlib ``OAuth2Session``
    that refreshes its token itself. ``secrets`` holds an API-key account's keys.
    ``sleep`` and ``max_wait`` exist so tests can run retries without waiting.
    """

    def __init__(
        self,
        base_urls: Mapping[str, str] | list[str],
        session: requests.Session,
        *,
        secrets: Mapping[str, str] | None = None,
        max_retries: int = 4,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        on_unauthorized: Callable[[], bool] | None = None,
    ):
        if not base_urls:
            raise ValueError("a provider needs at least one base URL")
        if not isinstance(base_urls, Mapping):
            base_urls = {"default": base_urls[0], **{str(i): u for i, u in enumerate(base_urls)}}
        self.bases = {k: u if u.endswith("/") else u + "/" for k, u in base_urls.items()}
        self.base_urls = list(dict.fromkeys(self.bases.values()))
        self.session = session
        self.secrets = dict(secrets or {})
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.on_unauthorized = on_unauthorized
        self.requests = 0

    def url(self, path: str, base: str = "default") -> str:
        """The absolute URL for `path` (relative to the base URL named `base`); an
        absolute URL must fall under one of the base URLs."""
        if urlsplit(path).scheme:
            url = path
        else:
            if base not in self.bases:
                raise OutsideBaseURL(f"no base URL named {base!r}")
            url = urljoin(self.bases[base], path.lstrip("/"))
        for base in self.base_urls:
            if url.startswith(base) or url + "/" == base:
                return url
        raise OutsideBaseURL(f"refused a request outside the provider's base URLs: {url}")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        base: str = "default",
        retry: Collection[int] = RETRIED,
    ) -> Any:
        """Send one request and answer the parsed JSON body (None when empty).
        `retry`: the statuses retried with backoff (a provider whose 429 means a used-up
        quota leaves it out)."""
        url = self.url(path, base)
        refreshed = False
        attempt = 0
        while True:
            try:
                self.requests += 1
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=dict(headers or {}),
                    timeout=TIMEOUT,
                    allow_redirects=False,
                )
            except NeedsReconnect:
                raise
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    # Not str(exc): requests puts the URL in it, query string (keys) included.
                    host = urlsplit(url).netloc
                    raise ProviderError(
                        f"no answer from the provider ({host}): {type(exc).__name__}"
                    ) from None
                self.sleep(min(self.max_wait, 2**attempt))
                attempt += 1
                continue
            except Exception as exc:  # authlib refusing a refresh
                if _is_refresh_refusal(exc):
                    raise NeedsReconnect(
                        f"the provider refused to refresh the token: {exc}", 401
                    ) from None
                raise
            status = response.status_code
            if status in retry:
                wait = retry_after(response.headers.get("Retry-After"))
                if attempt >= self.max_retries or (wait is not None and wait > self.max_wait):
                    raise ProviderError(_message(response), status, wait, _error_code(response))
                self.sleep(wait if wait is not None else min(self.max_wait, 2**attempt))
                attempt += 1
                continue
            if status == 401:
                if not refreshed and self.on_unauthorized is not None and self._refresh():
                    refreshed = True
                    continue
                raise NeedsReconnect(_message(response), status, code=_error_code(response))
            if not 200 <= status < 300:
                raise ProviderError(_message(response), status, code=_error_code(response))
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ProviderError(
                    "the provider answered something that is not JSON", status
                ) from None

    def _refresh(self) -> bool:
        """Ask for a fresh token after a 401; a refused refresh needs a reconnect."""
        try:
            return bool(self.on_unauthorized())
        except Exception as exc:
            if _is_refresh_refusal(exc):
                raise NeedsReconnect(
                    f"the provider refused to refresh the token: {exc}", 401
                ) from None
            raise

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def _is_refresh_refusal(exc: Exception) -> bool:
    """True for authlib's errors when the token endpoint refused a refresh."""
    from authlib.integrations.base_client import OAuthError
    from authlib.oauth2.rfc6749.errors import OAuth2Error

    return isinstance(exc, OAuthError | OAuth2Error)
