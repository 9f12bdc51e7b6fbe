"""REST API v1: bearer tokens, the same role rules as the pages, JSON errors naming the field."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import routes  # noqa: E402,F401
