"""All htmx glue in one place: detect htmx requests, render a page or one of its
blocks, and merge HX-Trigger events. Small enough to replace htmx-flask."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """A request made by htmx that wants a fragment (not a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def hx_target() -> str | None:
    return request.headers.get("HX-Target") if is_htmx() else None


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Response:
    """The named block for an htmx request, the whole page otherwise (Vary: HX-Request)."""
    if block and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Add an HX-Trigger event, merged with any already set (never overwritten)."""
    events: dict[str, Any] = {}
    existing = response.headers.get("HX-Trigger")
    if existing:
        try:
            events = json.loads(existing)
        except ValueError:
            events = {name.strip(): None for name in existing.split(",")}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def redirect(url: str) -> Response:
    """A redirect that htmx follows as a full navigation (HX-Redirect), 303 otherwise."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = make_response("", 303)
    response.headers["Location"] = url
    return response
