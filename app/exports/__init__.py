"""Exports: CSV, vCard and JSON of all contacts, a filter's result, a selection or a list."""

from flask import Blueprint

bp = Blueprint("exports", __name__, url_prefix="/exports")

from app.exports import jobs, routes  # noqa: E402,F401
