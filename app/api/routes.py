"""API authentication and endpoints."""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.api import bp
from app.auth.models import ApiToken, hash_token
from app.errors import api_error
from app.extensions import db
from app.timeutil import utcnow


@bp.before_request
def authenticate():
    """Every API call needs `Authorization: Bearer <token>`; cookies are not accepted."""
    if request.path == "/openapi.json":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return api_error(401, _("Send an API token: Authorization: Bearer <token>."))
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret.strip()))
    )
    if token is None or token.revoked_at is not None or not token.user.active:
        return api_error(401, _("This API token is not valid."))
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
        db.session.commit()
    g.api_user = token.user
    return None
