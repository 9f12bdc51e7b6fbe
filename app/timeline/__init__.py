"""Timeline pages: log, edit and delete notes, calls, meetings and follow-ups."""

from flask import Blueprint

bp = Blueprint("timeline", __name__, url_prefix="/timeline")

from app.timeline import routes  # noqa: E402,F401
