"""Settings → Integrations (admins): each plugin with its state, connect over OAuth 2
(authorization code with state and PKCE) or with an API key, account settings, sync now,
disconnect, last errors."""

from __future__ import annotations

import secrets
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.permissions import actor, require
from app.extensions import db
from app.integrations import accounts, bp, plugins, sync
from app.integrations.http import ProviderError
from app.integrations.models import ConnectedAccount

_FLOW = "integrations_oauth"


def _plugin(name: str) -> plugins.Plugin:
    plugin = plugins.providers().get(name)
    if plugin is None:
        abort(404)
    return plugin


def _account(account_id: int) -> tuple[ConnectedAccount, plugins.Plugin | None]:
    account = db.get_or_404(ConnectedAccount, account_id)
    return account, plugins.get(account.provider)


def state_of(account: ConnectedAccount | None) -> str:
    """not_connected, connected, needs_reconnect or error."""
    if account is None:
        return "not_connected"
    return account.status if account.status in ("needs_reconnect", "error") else "connected"


@bp.get("/")
@require("admin")
def index():
    rows = db.session.scalars(select(ConnectedAccount).order_by(ConnectedAccount.id)).all()
    by_provider: dict[str, list[ConnectedAccount]] = {}
    for account in rows:
        by_provider.setdefault(account.provider, []).append(account)
    providers = [
        {
            "plugin": plugin,
            "accounts": by_provider.get(name, []),
            "ready": accounts.can_connect(plugin),
            "settings": (plugin.provider or {}).get("settings", []),
        }
        for name, plugin in sorted(plugins.providers().items())
    ]
    orphans = [a for a in rows if plugins.get(a.provider) is None]
    return render_template(
        "integrations/index.html",
        providers=providers,
        orphans=orphans,
        state_of=state_of,
        settings_of=accounts.settings_of,
        sync_minutes=accounts.sync_minutes,
    )


@bp.get("/<name>/connect")
@require("admin")
def connect(name: str):
    """Send the browser to the provider's consent page (state and PKCE kept in the
    session). A GET, so the page's CSP form-action does not block the redirect."""
    plugin = _plugin(name)
    if plugin.auth != "oauth2":
        abort(404)
    if not accounts.can_connect(plugin):
        flash(
            _(
                "%(provider)s is not configured: set KONTOR_%(env)s_CLIENT_ID and "
                "KONTOR_%(env)s_CLIENT_SECRET.",
                provider=plugin.label,
                env=name.upper(),
            ),
            "error",
        )
        return redirect(url_for("integrations.index"))
    cfg = accounts.config(plugin)
    verifier = generate_token(64)
    state = secrets.token_urlsafe(24)
    client = OAuth2Session(
        cfg["client_id"],
        cfg["client_secret"],
        token_endpoint_auth_method=accounts.client_auth(cfg),
        scope=" ".join(cfg["scopes"]),
        redirect_uri=url_for("integrations.callback", name=name, _external=True),
        code_challenge_method="S256",
    )
    url, _state = client.create_authorization_url(
        cfg["authorize_url"], state=state, code_verifier=verifier, **cfg["authorize_params"]
    )
    session[_FLOW] = {"provider": name, "state": state, "verifier": verifier}
    return redirect(url)


@bp.get("/<name>/callback")
@require("admin")
def callback(name: str):
    """The provider sends the browser back here with a code (or an error)."""
    plugin = _plugin(name)
    flow = session.pop(_FLOW, None) or {}
    if request.args.get("error"):
        flash(
            _(
                "%(provider)s did not connect: %(reason)s",
                provider=plugin.label,
                reason=request.args.get("error_description") or request.args["error"],
            ),
            "error",
        )
        return redirect(url_for("integrations.index"))
    if (
        flow.get("provider") != name
        or not request.args.get("state")
        or not secrets.compare_digest(str(flow.get("state")), request.args["state"])
    ):
        flash(_("This connection attempt expired or was not started here; try again."), "error")
        return redirect(url_for("integrations.index"))
    cfg = accounts.config(plugin)
    client = OAuth2Session(
        cfg["client_id"],
        cfg["client_secret"],
        token_endpoint_auth_method=accounts.client_auth(cfg),
        redirect_uri=url_for("integrations.callback", name=name, _external=True),
    )
    try:
        token = client.fetch_token(
            cfg["token_url"],
            code=request.args.get("code", ""),
            code_verifier=flow.get("verifier"),
            state=flow.get("state"),
        )
    except Exception as exc:  # authlib raises OAuthError, requests its own
        flash(
            _("%(provider)s refused the connection: %(reason)s", provider=plugin.label, reason=exc),
            "error",
        )
        return redirect(url_for("integrations.index"))
    return _connected(plugin, token=dict(token)) or redirect(url_for("integrations.index"))


def _connected(plugin: plugins.Plugin, **credentials: Any):
    """Store the account, ask the plugin who it is, start a first sync."""
    account = accounts.connect(plugin.name, actor=actor(), **credentials)
    label, details = None, None
    if plugin.implements("identify_account"):
        try:
            who = plugins.call(
                plugin,
                "identify_account",
                http=accounts.http_for(account, plugin),
                settings=accounts.settings_of(plugin, account),
            )
        except ProviderError as exc:
            db.session.rollback()
            flash(
                _("%(provider)s refused: %(reason)s", provider=plugin.label, reason=exc.message),
                "error",
            )
            return None
        if isinstance(who, dict):
            label = str(who.get("label") or "")[:320] or None
            details = {str(k): str(v) for k, v in (who.get("details") or {}).items()}
    if label:
        same = db.session.scalar(
            select(ConnectedAccount).where(
                ConnectedAccount.provider == plugin.name,
                ConnectedAccount.label == label,
                ConnectedAccount.id != account.id,
            )
        )
        if same is not None:  # connected again: keep the old account, its cursors and links
            same.token_encrypted = account.token_encrypted
            same.status, same.last_error = "connected", None
            db.session.delete(account)
            account = same
    account.label = label or account.label
    account.details = details if details is not None else account.details
    if plugin.implements("pull_contacts") or plugin.implements("pull_activities"):
        sync.start_sync(account, actor=actor())
    db.session.commit()
    flash(
        _(
            "%(provider)s connected as %(label)s.",
            provider=plugin.label,
            label=account.label or "?",
        ),
        "success",
    )
    return redirect(url_for("integrations.index"))


@bp.post("/<name>/api-key")
@require("admin")
def api_key(name: str):
    plugin = _plugin(name)
    if plugin.auth != "api_key":
        abort(404)
    fields = (plugin.provider or {}).get("api_key_fields") or []
    values = {f["name"]: (request.form.get(f["name"]) or "").strip() for f in fields}
    if not all(values.values()):
        flash(_("Enter every key %(provider)s needs.", provider=plugin.label), "error")
        return redirect(url_for("integrations.index"))
    answer = _connected(plugin, secrets=values)
    return answer or redirect(url_for("integrations.index"))


@bp.post("/accounts/<int:account_id>/sync")
@require("admin")
def sync_now(account_id: int):
    account, plugin = _account(account_id)
    if plugin is None:
        abort(404)
    job = sync.start_sync(account, actor=actor())
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.post("/accounts/<int:account_id>/settings")
@require("admin")
def save_settings(account_id: int):
    account, plugin = _account(account_id)
    if plugin is None:
        abort(404)
    values: dict[str, Any] = {}
    errors = []
    for spec in (plugin.provider or {}).get("settings", []):
        raw = request.form.get(spec["name"])
        if spec.get("type") == "bool":
            values[spec["name"]] = raw == "on"
        elif spec.get("type") == "int":
            try:
                values[spec["name"]] = int(raw or spec.get("default") or 0)
            except ValueError:
                errors.append(spec.get("label") or spec["name"])
        else:
            values[spec["name"]] = (raw or "").strip()[:500]
    minutes = request.form.get("sync_minutes", "").strip()
    if minutes:
        if not minutes.isdigit() or int(minutes) > 7 * 24 * 60:
            errors.append(_("Minutes between syncs"))
        else:
            account.sync_minutes = int(minutes)
    if errors:
        db.session.rollback()
        flash(_("Not saved; check: %(fields)s.", fields=", ".join(map(str, errors))), "error")
        return redirect(url_for("integrations.index"))
    account.settings = values
    accounts.schedule_next(plugin, account)
    db.session.commit()
    flash(_("Settings of %(label)s saved.", label=account.label or plugin.label), "success")
    return redirect(url_for("integrations.index"))


@bp.post("/accounts/<int:account_id>/disconnect")
@require("admin")
def disconnect(account_id: int):
    account, plugin = _account(account_id)
    label = account.label or account.provider
    revoked = accounts.disconnect(account, plugin, actor=actor())
    db.session.commit()
    if revoked:
        flash(_("%(label)s disconnected; the provider revoked its access.", label=label), "success")
    else:
        flash(_("%(label)s disconnected.", label=label), "success")
    return redirect(url_for("integrations.index"))
