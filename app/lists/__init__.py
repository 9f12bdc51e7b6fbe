"""Lists pages."""

from flask import Blueprint

bp = Blueprint("lists", __name__, url_prefix="/lists")

from app.lists import routes  # noqa: E402,F401
