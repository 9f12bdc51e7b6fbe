"""Imports: the wizard pages, the import job and its undo."""

from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")

from app.imports import engine, routes, undo  # noqa: E402,F401
