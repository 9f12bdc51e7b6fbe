"""Connected accounts: provider configuration, storing credentials encrypted, the HTTP
client a plugin gets for an account, OAuth token refresh, status and errors.

Provider configuration is what the plugin describes, overridden by
``KONTOR_<NAME>_<KEY>`` environment variables (``KONTOR_GMAIL_CLIENT_ID``,
``KONTOR_GMAIL_BASE_URL``, ...), themselves overridden by
``app.config["INTEGRATIONS"][name]`` (what an app factory or a test sets wins).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from sqlalchemy import select

from app import audit
from app.extensions import db
from app.integrations import crypto
from app.integrations.http import ProviderHTTP
from app.integrations.models import ConnectedAccount
from app.integrations.plugins import Plugin, get
from app.timeutil import utcnow

MAX_ERRORS = 10
CONFIG_KEYS = (
    "base_url",
    "client_id",
    "client_secret",
    "authorize_url",
    "token_url",
    "revoke_url",
)


class NotConfigured(Exception):
    """The provider lacks what connecting needs (an OAuth client id, say)."""


def config(plugin: Plugin) -> dict[str, Any]:
    """The provider's effective configuration: URLs, OAuth client, scopes, base URLs."""
    provider = plugin.provider or {}
    oauth = provider.get("oauth") or {}
    name = plugin.name
    merged: dict[str, Any] = {
        "base_url": provider.get("base_url", ""),
        "authorize_url": oauth.get("authorize_url"),
        "token_url": oauth.get("token_url"),
        "revoke_url": oauth.get("revoke_url"),
        "client_auth": oauth.get("client_auth"),
        "scopes": list(oauth.get("scopes") or []),
        "authorize_params": dict(oauth.get("authorize_params") or {}),
        "client_id": None,
        "client_secret": None,
        "extra_base_urls": dict(provider.get("extra_base_urls") or {}),
    }
    overrides = dict((current_app.config.get("INTEGRATIONS") or {}).get(name) or {})
    prefix = f"KONTOR_{name.upper()}_"
    for key in CONFIG_KEYS:
        env = os.environ.get(prefix + key.upper())
        if env:
            overrides.setdefault(key, env)
    for key in merged["extra_base_urls"]:
        env = os.environ.get(f"{prefix}{key.upper()}_URL")
        if env:
            overrides.setdefault(f"{key}_url", env)
    for key, value in overrides.items():
        if key.endswith("_url") and key[: -len("_url")] in merged["extra_base_urls"]:
            merged["extra_base_urls"][key[: -len("_url")]] = value
        elif key != "extra_base_urls":
            merged[key] = value
    return merged


def can_connect(plugin: Plugin) -> bool:
    """OAuth providers need a client id and secret; API-key ones are always ready."""
    if plugin.auth != "oauth2":
        return plugin.auth == "api_key"
    cfg = config(plugin)
    return bool(cfg["client_id"] and cfg["client_secret"] and cfg["token_url"])


def settings_of(plugin: Plugin, account: ConnectedAccount | None) -> dict[str, Any]:
    """The account's settings with the provider's declared defaults filled in."""
    values = {s["name"]: s.get("default") for s in (plugin.provider or {}).get("settings", [])}
    values.update((account.settings or {}) if account is not None else {})
    return values


def plain(account: ConnectedAccount) -> dict[str, Any]:
    """The account as plugins see it."""
    return {"id": account.id, "label": account.label, "details": dict(account.details or {})}


def sync_minutes(plugin: Plugin, account: ConnectedAccount) -> int:
    if account.sync_minutes is not None:
        return account.sync_minutes
    return int((plugin.provider or {}).get("sync_minutes") or 0)


def connect(
    provider: str,
    *,
    token: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    label: str | None = None,
    details: dict[str, Any] | None = None,
    actor=None,
) -> ConnectedAccount:
    """Store a connected account (credentials encrypted); the caller commits.

    The same provider account connected again (same label) replaces its credentials.
    """
    plugin = get(provider)
    if plugin is None or plugin.provider is None:
        raise NotConfigured(f"no plugin provides {provider!r}")
    secret: dict[str, Any] = {"token": token} if token is not None else {"secrets": secrets or {}}
    account = None
    if label:
        account = db.session.scalar(
            select(ConnectedAccount).where(
                ConnectedAccount.provider == provider, ConnectedAccount.label == label
            )
        )
    if account is None:
        account = ConnectedAccount(provider=provider, settings=dict(settings or {}))
        db.session.add(account)
    elif settings:
        account.settings = {**(account.settings or {}), **settings}
    account.user_id = getattr(actor, "id", None) or account.user_id
    account.label = label or account.label
    account.details = details if details is not None else account.details
    account.token_encrypted = crypto.encrypt(secret)
    account.scopes = " ".join(token.get("scope", "").split()) if token else None
    account.status = "connected"
    account.last_error = None
    minutes = sync_minutes(plugin, account)
    account.next_sync_at = utcnow() if minutes else None
    db.session.flush()
    audit.record(
        "connect",
        "connected_account",
        account.id,
        {"provider": provider, "label": label},
        actor=actor,
        via="web" if actor else "system",
    )
    return account


def credentials(account: ConnectedAccount) -> dict[str, Any]:
    """The decrypted credentials: {"token": {...}} or {"secrets": {...}}."""
    if not account.token_encrypted:
        return {}
    return crypto.decrypt(account.token_encrypted)


def http_for(account: ConnectedAccount, plugin: Plugin, **options: Any) -> ProviderHTTP:
    """The HTTP client for `account`: its provider's base URLs, its credentials, and for
    OAuth an authlib session that refreshes an expired token and saves the new one."""
    cfg = config(plugin)
    bases = {"default": cfg["base_url"], **cfg["extra_base_urls"]}
    creds = credentials(account)
    if plugin.auth != "oauth2":
        return ProviderHTTP(bases, requests.Session(), secrets=creds.get("secrets"), **options)

    def update_token(token, refresh_token=None, access_token=None):
        """Save a refreshed token at once: a refresh token the provider rotated must
        survive even if the sync that refreshed it fails later. Syncs refresh between
        pages, so this commit holds no half-written page."""
        account.token_encrypted = crypto.encrypt({"token": dict(token)})
        db.session.commit()

    session = OAuth2Session(
        cfg["client_id"],
        cfg["client_secret"],
        token=creds.get("token"),
        token_endpoint=cfg["token_url"],
        token_endpoint_auth_method=client_auth(cfg),
        update_token=update_token,
    )

    def refresh() -> bool:
        """A 401 on a token we believed valid: refresh once, if we can."""
        token = session.token or {}
        if not token.get("refresh_token"):
            return False
        session.refresh_token(cfg["token_url"], refresh_token=token["refresh_token"])
        return True

    return ProviderHTTP(bases, session, on_unauthorized=refresh, **options)


def note_error(account: ConnectedAccount, message: str, *, status: str = "error") -> None:
    """Record a sync error on the account (the last few are kept, newest first)."""
    entry = {"at": utcnow().isoformat(timespec="seconds"), "message": message[:500]}
    account.errors = [entry, *(account.errors or [])][:MAX_ERRORS]
    account.last_error = message[:500]
    account.status = status


def schedule_next(plugin: Plugin, account: ConnectedAccount, *, after: float | None = None) -> None:
    """Set when the next scheduled sync is due (None: on demand only)."""
    minutes = sync_minutes(plugin, account)
    if after is not None:
        account.next_sync_at = utcnow() + timedelta(seconds=max(after, 60))
    elif minutes:
        account.next_sync_at = utcnow() + timedelta(minutes=minutes)
    else:
        account.next_sync_at = None


def client_auth(cfg: dict[str, Any]) -> str:
    """How the OAuth client authenticates at the token and revocation endpoints:
    ``client_secret_post`` (id and secret in the form) when the provider asks for it,
    else ``client_secret_basic`` (HTTP Basic, OAuth 2's default)."""
    if cfg.get("client_auth") == "client_secret_post":
        return "client_secret_post"
    return "client_secret_basic"


def revoke(account: ConnectedAccount, plugin: Plugin) -> bool:
    """Ask the provider to revoke the account's token (RFC 7009), where it offers that.
    Best effort: True when the provider confirmed."""
    cfg = config(plugin)
    if plugin.auth != "oauth2" or not cfg.get("revoke_url"):
        return False
    token = credentials(account).get("token") or {}
    kind = "refresh_token" if token.get("refresh_token") else "access_token"
    value = token.get(kind)
    if not value:
        return False
    form = {"token": value, "token_type_hint": kind}
    client = (cfg["client_id"] or "", cfg["client_secret"] or "")
    post = client_auth(cfg) == "client_secret_post"
    if post:
        form.update(client_id=client[0], client_secret=client[1])
    try:
        response = requests.post(
            cfg["revoke_url"], data=form, auth=None if post else client, timeout=15
        )
    except requests.RequestException:
        return False
    return response.ok


def disconnect(account: ConnectedAccount, plugin: Plugin | None, *, actor=None) -> bool:
    """Revoke (where possible) and forget the account; its synced data stays. The caller
    commits. Answers whether the provider confirmed the revocation."""
    revoked = revoke(account, plugin) if plugin is not None else False
    audit.record(
        "disconnect",
        "connected_account",
        account.id,
        {"provider": account.provider, "label": account.label, "revoked": revoked},
        actor=actor,
        via="web" if actor else "system",
    )
    db.session.delete(account)
    return revoked


def rotate_keys() -> int:
    """Re-encrypt every account's credentials with the newest key; answers how many."""
    accounts = db.session.scalars(
        select(ConnectedAccount).where(ConnectedAccount.token_encrypted.is_not(None))
    ).all()
    for account in accounts:
        account.token_encrypted = crypto.rotate(account.token_encrypted)
    return len(accounts)
