"""Duplicates pages: scan, review queue, merge and undo."""

from flask import Blueprint

bp = Blueprint("dedupe", __name__, url_prefix="/duplicates")

from app.dedupe import index, routes, scan, scan_routes  # noqa: E402,F401
