"""REST API v1: bearer tokens, the same role rules as the pages, JSON errors naming the field."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import (  # noqa: E402,F401
    activities,
    common,
    companies,
    contacts,
    dedupe,
    dedupe_scan,
    imports,
    jobs,
    openapi,
    pipeline,
    routes,
    scoring,
    segments,
    taxonomy,
    timeline,
)
