"""OpenAPI description of the pipeline endpoints (deals and stages); see app.api.pipeline."""

from __future__ import annotations

from typing import Any

from app.api.openapi import (
    NOT_FOUND,
    PAGING,
    READ_ERRORS,
    WRITE_ERRORS,
    _body,
    _error,
    _json,
    _page,
    _query,
)
from app.pipeline.service import MAX_REASON, MAX_TITLE, MAX_VALUE
from app.pipeline.stages import MAX_NAME, OUTCOMES

TAG = "deals"

_DATE = {"type": "string", "format": "date"}
_STAMP = {"type": "string", "format": "date-time", "description": "UTC.", "readOnly": True}
_CONFLICT = _error(
    "`version` (or If-Match) is not the saved one: someone changed the deal since you read "
    "it; `version` holds the current one. Nothing was saved."
)
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The version you last read (instead of `version` in the body).",
    "schema": {"type": "string"},
}
_ADMIN_ERRORS = {**WRITE_ERRORS, "403": _error("Only admins change stages.")}


def _deal_input() -> dict[str, Any]:
    ref = ["integer", "string", "null"]
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": MAX_TITLE},
            "value": {
                "type": ["number", "string", "null"],
                "minimum": 0,
                "maximum": float(MAX_VALUE),
                "description": "Amount (2 decimals); a string may use a comma.",
            },
            "currency": {
                "type": "string",
                "pattern": "^[A-Za-z]{3}$",
                "description": "ISO 4217 code (default EUR).",
            },
            "stage": {
                "type": ["integer", "string"],
                "description": "Stage id or name (default: the first stage). A stage change "
                "puts the deal at the top of that column.",
            },
            "stage_id": {"type": "integer", "description": "Same as `stage`."},
            "contact": {"type": ref, "description": "Contact id or email."},
            "contact_id": {"type": ["integer", "null"]},
            "company": {
                "type": ref,
                "description": "Company id or exact name (default: the contact's company).",
            },
            "company_id": {"type": ["integer", "null"]},
            "owner": {"type": ref, "description": "User id or email (default: you)."},
            "owner_id": {"type": ["integer", "null"]},
            "expected_close_date": {**_DATE, "type": ["string", "null"]},
            "closed_reason": {
                "type": ["string", "null"],
                "maxLength": MAX_REASON,
                "description": "Why it was won or lost (only for a deal in a won/lost stage).",
            },
            "version": {"type": "integer", "description": "PATCH: a stale one is a 409."},
        },
        "additionalProperties": False,
    }


def schemas() -> dict[str, Any]:
    """The Deal, Stage and move schemas."""
    return {
        "Deal": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "title": {"type": "string"},
                "value": {"type": ["number", "null"]},
                "currency": {"type": "string", "description": "ISO 4217."},
                "stage_id": {"type": "integer"},
                "stage": {"type": "string", "description": "The stage's name."},
                "outcome": {"type": "string", "enum": list(OUTCOMES)},
                "position": {
                    "type": "number",
                    "description": "Sort key in its column (ascending); only the order means "
                    "something.",
                },
                "contact_id": {"type": ["integer", "null"]},
                "company_id": {"type": ["integer", "null"]},
                "owner_id": {"type": ["integer", "null"]},
                "owner": {"type": ["string", "null"], "format": "email"},
                "expected_close_date": {**_DATE, "type": ["string", "null"]},
                "closed_reason": {"type": ["string", "null"]},
                "closed_at": {
                    **_STAMP,
                    "type": ["string", "null"],
                    "description": "Set when it entered a won or lost stage, cleared when it "
                    "left it.",
                },
                "stage_entered_at": _STAMP,
                "created_at": _STAMP,
                "updated_at": _STAMP,
                "version": {"type": "integer", "readOnly": True},
            },
            "required": ["id", "title", "currency", "stage_id", "version"],
        },
        "DealInput": _deal_input(),
        "DealPage": _page("Deal"),
        "DealMove": {
            "type": "object",
            "properties": {
                "stage": {"type": ["integer", "string"], "description": "Stage id or name."},
                "position": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "0-based place in the target column (default 0, the top; "
                    "past the end: the bottom).",
                },
                "version": {"type": "integer", "description": "A stale one is a 409."},
            },
            "required": ["stage"],
            "additionalProperties": False,
        },
        "Stage": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "name": {"type": "string", "maxLength": MAX_NAME},
                "outcome": {"type": "string", "enum": list(OUTCOMES)},
                "position": {"type": "integer", "description": "0-based, left to right."},
                "deal_count": {"type": "integer", "readOnly": True},
            },
            "required": ["id", "name", "outcome", "position"],
        },
        "StageInput": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": MAX_NAME},
                "outcome": {"type": "string", "enum": list(OUTCOMES)},
                "position": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "StagePage": _page("Stage"),
    }


def operations() -> dict[str, dict[str, Any]]:
    """The OpenAPI operation of each pipeline endpoint."""
    deal = _json("Deal", "The deal.")
    tags = [TAG]
    return {
        "api.deals_list": {
            "tags": tags,
            "parameters": [
                _query("stage", "Stage id or name."),
                _query("owner", "Owner user id, `me` or `none`."),
                _query("contact", "Contact id.", {"type": "integer"}),
                _query("company", "Company id.", {"type": "integer"}),
                _query("close_from", "Expected to close on or after.", _DATE),
                _query("close_to", "Expected to close on or before.", _DATE),
                *PAGING,
            ],
            "responses": {"200": _json("DealPage", "A page of deals, by id."), **READ_ERRORS},
        },
        "api.deals_create": {
            "tags": tags,
            "description": "Adds a `deal_created` activity to the contact's timeline.",
            "requestBody": _body("DealInput"),
            "responses": {"201": _json("Deal", "Created."), **WRITE_ERRORS},
        },
        "api.deals_get": {
            "tags": tags,
            "responses": {"200": deal, **READ_ERRORS, **NOT_FOUND},
        },
        "api.deals_patch": {
            "tags": tags,
            "description": "A new `stage` is a move to the top of that column, with its "
            "timeline activity (`deal_stage_changed`, `deal_won` or `deal_lost`).",
            "parameters": [_IF_MATCH],
            "requestBody": _body("DealInput"),
            "responses": {"200": deal, **WRITE_ERRORS, **NOT_FOUND, "409": _CONFLICT},
        },
        "api.deals_delete": {
            "tags": tags,
            "parameters": [_IF_MATCH],
            "responses": {
                "204": {"description": "Deleted."},
                **WRITE_ERRORS,
                **NOT_FOUND,
                "409": _CONFLICT,
            },
        },
        "api.deals_move": {
            "tags": tags,
            "description": "Within its column or to another one. Entering a won or lost "
            "stage sets `closed_at`; leaving it clears `closed_at` and `closed_reason`. A "
            "stage change adds `deal_stage_changed`, `deal_won` or `deal_lost` to the "
            "contact's timeline.",
            "parameters": [_IF_MATCH],
            "requestBody": _body("DealMove"),
            "responses": {"200": deal, **WRITE_ERRORS, **NOT_FOUND, "409": _CONFLICT},
        },
        "api.stages_list": {
            "tags": tags,
            "responses": {"200": _json("StagePage", "Every stage, left to right."), **READ_ERRORS},
        },
        "api.stages_create": {
            "tags": tags,
            "requestBody": _body("StageInput"),
            "responses": {"201": _json("Stage", "Created."), **_ADMIN_ERRORS},
        },
        "api.stages_patch": {
            "tags": tags,
            "description": "Changing the outcome sets (won/lost) or clears (open) the "
            "closing date of the stage's deals.",
            "requestBody": _body("StageInput"),
            "responses": {"200": _json("Stage", "Saved."), **_ADMIN_ERRORS, **NOT_FOUND},
        },
        "api.stages_delete": {
            "tags": tags,
            "responses": {
                "204": {"description": "Deleted."},
                **_ADMIN_ERRORS,
                **NOT_FOUND,
                "409": _error("The stage holds deals (`deals` says how many), or is the last."),
            },
        },
    }
