"""Segments pages: the list of saved segments and the condition builder."""

from flask import Blueprint

bp = Blueprint("segments", __name__, url_prefix="/segments")

from app.segments import routes  # noqa: E402,F401
