"""REST API v1: bearer tokens, the same role rules as the pages, JSON errors naming the field."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import common, companies, contacts, imports, jobs, openapi, routes, taxonomy  # noqa: E402,F401
