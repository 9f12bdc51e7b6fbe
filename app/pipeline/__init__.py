"""Pipeline pages: the deal board, deals list and stage settings."""

from flask import Blueprint

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")

from app.pipeline import routes  # noqa: E402,F401
