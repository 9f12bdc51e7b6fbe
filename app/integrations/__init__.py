"""Integrations: plugins (pluggy hooks), connected accounts and their syncs.

Pages under Settings → Integrations; plugin authors import ``hookimpl`` from here (or
``from app import hookimpl``).
"""

from flask import Blueprint

from app.integrations.hookspecs import hookimpl

bp = Blueprint("integrations", __name__, url_prefix="/settings/integrations")

__all__ = ["bp", "hookimpl"]

from app.integrations import routes, sync  # noqa: E402,F401  (pages, job handlers, listener)
