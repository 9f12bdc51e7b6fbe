"""OpenAPI description of the duplicates endpoints: suggested pairs, merge, dismiss, undo."""

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
)
from app.dedupe.merge import CHOICE_FIELDS
from app.dedupe.merger import UNDO_DAYS
from app.dedupe.models import PAIR_STATUSES

TAG = "duplicates"


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def operations() -> dict[str, dict[str, Any]]:
    return {
        "api.duplicates_list": {
            "tags": [TAG],
            "description": "Pairs found by the duplicate scan, highest score first. "
            "`reasons` are human sentences in the caller's language; `reason_codes` "
            "the stored reasons.",
            "parameters": [
                _query(
                    "min_score",
                    "Only pairs scoring at least this.",
                    {"type": "integer", "minimum": 0, "maximum": 100},
                ),
                _query("cluster", "Only the pairs of one cluster.", {"type": "integer"}),
                _query(
                    "status",
                    "open (default), dismissed or merged.",
                    {"type": "string", "enum": list(PAIR_STATUSES)},
                ),
                *PAGING,
            ],
            "responses": {
                "200": _json("DuplicatePairPage", "A page of suggested pairs."),
                **READ_ERRORS,
            },
        },
        "api.contacts_merge": {
            "tags": [TAG],
            "description": "The contact in the path survives; `duplicate_id` is merged into "
            "it and deleted. Its activities, deals, list memberships, tags, custom values "
            "and the contacts referring to it move to the survivor; its email and phones "
            "are kept as secondary ones. `fields` chooses, per field, the value of the "
            '`"survivor"` or of the `"duplicate"` (`"both"` for a multi-select custom '
            'field), or gives `{"value": ...}`; unlisted fields take the default '
            "(the most recently updated record's non-empty value; an unsubscribe or "
            "opt-out is kept). `version`/`duplicate_version` refuse the merge (409) when "
            f"a record changed since you read it. Undo within {UNDO_DAYS} days.",
            "requestBody": _body("MergeInput"),
            "responses": {
                "201": _json("Merge", "Merged."),
                **WRITE_ERRORS,
                "404": _error("No such contact (`field` is `duplicate_id` for the other)."),
                "409": _error("A record changed since the given version; nothing was merged."),
            },
        },
        "api.duplicates_dismiss": {
            "tags": [TAG],
            "description": "Not a duplicate: the pair is kept as dismissed and never "
            "suggested again by later scans.",
            "responses": {
                "200": _json("DuplicatePair", "The pair, dismissed."),
                **WRITE_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.merges_list": {
            "tags": [TAG],
            "parameters": [
                _query(
                    "contact_id",
                    "Merges this contact survived or was merged in.",
                    {"type": "integer"},
                ),
                *PAGING,
            ],
            "responses": {"200": _json("MergePage", "A page of merges."), **READ_ERRORS},
        },
        "api.merges_get": {
            "tags": [TAG],
            "responses": {"200": _json("Merge", "The merge."), **READ_ERRORS, **NOT_FOUND},
        },
        "api.merges_undo": {
            "tags": [TAG],
            "description": "The merged contact comes back with its id, fields, tags, "
            "custom values, list memberships and activities; the survivor gets back the "
            "values the merge changed, unless they were edited since.",
            "responses": {
                "200": _json("Merge", "Undone (`undone_at` set, `restored` the contact id)."),
                **WRITE_ERRORS,
                **NOT_FOUND,
                "409": _error(
                    f"Undone already (`undone`), older than {UNDO_DAYS} days (`expired`), "
                    "the survivor is gone (`gone`) or the email is taken (`email_taken`)."
                ),
            },
        },
    }


_SUMMARY = {
    "type": ["object", "null"],
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "name": {"type": ["string", "null"]},
    },
}
_CHANGE = {"type": "array", "minItems": 2, "maxItems": 2, "description": "[before, after]"}


def schemas() -> dict[str, dict[str, Any]]:
    choice = {
        "oneOf": [
            {"type": "string", "enum": ["survivor", "duplicate", "both"]},
            {
                "type": "object",
                "properties": {"value": {}},
                "required": ["value"],
                "additionalProperties": False,
            },
        ]
    }
    return {
        "DuplicatePair": {
            "type": "object",
            "required": ["id", "a", "b", "score", "reasons"],
            "properties": {
                "id": {"type": "integer"},
                "a": {"type": "integer", "description": "Contact id (the lower one)."},
                "b": {"type": "integer", "description": "Contact id."},
                "score": {"type": "integer", "minimum": 0, "maximum": 100},
                "reasons": {"type": "array", "items": {"type": "string"}},
                "reason_codes": {"type": "array", "items": {"type": "object"}},
                "cluster_id": {"type": ["integer", "null"]},
                "status": {"type": "string", "enum": list(PAIR_STATUSES)},
                "a_contact": _SUMMARY,
                "b_contact": _SUMMARY,
                "created_at": {"type": "string", "format": "date-time"},
                "decided_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "DuplicatePairPage": {
            "type": "object",
            "required": ["data", "next_cursor"],
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/DuplicatePair"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        "MergeInput": {
            "type": "object",
            "required": ["duplicate_id"],
            "additionalProperties": False,
            "properties": {
                "duplicate_id": {"type": "integer", "description": "The contact merged away."},
                "fields": {
                    "type": "object",
                    "description": "Per-field choices; keys are field names ("
                    + ", ".join(CHOICE_FIELDS)
                    + ") or custom.<name>.",
                    "additionalProperties": choice,
                },
                "version": {"type": "integer", "description": "The survivor's expected version."},
                "duplicate_version": {
                    "type": "integer",
                    "description": "The duplicate's expected version.",
                },
            },
        },
        "Merge": {
            "type": "object",
            "required": ["id", "survivor", "merged", "created_at", "undone_at"],
            "properties": {
                "id": {"type": "integer"},
                "survivor": {"type": ["integer", "null"], "description": "Contact id kept."},
                "merged": {"type": "integer", "description": "Contact id merged away."},
                "merged_email": {"type": "string"},
                "restored": {
                    "type": ["integer", "null"],
                    "description": "After undo: the restored contact's id.",
                },
                "pair_id": {"type": ["integer", "null"]},
                "fields": {
                    "type": "object",
                    "description": "Fields of the survivor the merge changed.",
                    "additionalProperties": _CHANGE,
                },
                "moved": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "How many activities, deals, lists, tags and referring "
                    "contacts moved.",
                },
                "user_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "undone_at": {"type": ["string", "null"], "format": "date-time"},
                "undo_until": {"type": "string", "format": "date-time"},
                "can_undo": {"type": "boolean"},
            },
        },
        "MergePage": {
            "type": "object",
            "required": ["data", "next_cursor"],
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Merge"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
    }
