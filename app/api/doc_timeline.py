"""OpenAPI documentation of the timeline endpoints (app/api/timeline.py)."""

from __future__ import annotations

from typing import Any

from app.api.openapi import NOT_FOUND, WRITE_ERRORS, _body, _error, _json
from app.timeline.forms import CALL_DIRECTIONS, CALL_OUTCOMES, MAX_ATTENDEES, MAX_DURATION

TAG = "activities"


def operations() -> dict[str, Any]:
    return {
        "api.activities_update": {
            "tags": [TAG],
            "description": "Only notes, calls, meetings and follow-ups (`task`) are edited, "
            "by their author or an admin (403 otherwise). Send only the fields to change; the "
            "fields a kind takes are listed in ActivityEdit (another field is a 422). The "
            "contact's last activity and last contacted dates are recomputed, so moving a call "
            "back in time moves them back too. Dates without an offset are UTC.",
            "requestBody": _body("ActivityEdit"),
            "responses": {
                "200": _json("ActivityEdited", "The activity as saved."),
                **WRITE_ERRORS,
                "403": _error("A viewer, not the author nor an admin, or a kind not edited."),
                **NOT_FOUND,
                "409": _error("Saved by someone else at the same moment; try again."),
            },
        },
        "api.activities_delete": {
            "tags": [TAG],
            "description": "By its author or an admin. Field changes, merges, imports, deal "
            "events and score thresholds are Kontor's own history and are kept (403). The "
            "contact's dates are recomputed; the audit trail keeps what the activity said.",
            "responses": {
                "204": {"description": "Deleted."},
                "401": _error("No valid token."),
                "403": _error("A viewer, not the author nor an admin, or a kind that is kept."),
                **NOT_FOUND,
            },
        },
    }


def schemas() -> dict[str, Any]:
    return {
        "ActivityEdit": {
            "type": "object",
            "description": "note: body, occurred_at · call: direction, outcome, "
            "duration_minutes, body, occurred_at · meeting: occurred_at, subject, attendees, "
            "body · task: subject, due_date, body, done.",
            "properties": {
                "body": {"type": ["string", "null"], "description": "The note, or notes."},
                "occurred_at": {"type": "string", "format": "date-time"},
                "subject": {
                    "type": ["string", "null"],
                    "description": "A meeting's title; a follow-up's text (required).",
                },
                "direction": {"type": "string", "enum": list(CALL_DIRECTIONS)},
                "outcome": {"type": "string", "enum": list(CALL_OUTCOMES)},
                "duration_minutes": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "maximum": MAX_DURATION,
                },
                "attendees": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "maxItems": MAX_ATTENDEES,
                    "description": "Contact ids.",
                },
                "due_date": {"type": "string", "format": "date"},
                "done": {"type": "boolean", "description": "Mark a follow-up done, or open."},
            },
            "additionalProperties": False,
        },
        "ActivityEdited": {
            "allOf": [
                {"$ref": "#/components/schemas/Activity"},
                {
                    "type": "object",
                    "properties": {
                        "due_at": {"type": ["string", "null"], "format": "date-time"},
                        "completed_at": {"type": ["string", "null"], "format": "date-time"},
                        "updated_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            ],
        },
    }
