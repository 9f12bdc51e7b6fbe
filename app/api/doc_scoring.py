"""OpenAPI description of the lead scoring endpoints (app/api/scoring.py)."""

from __future__ import annotations

from typing import Any

from app.api.openapi import NOT_FOUND, READ_ERRORS, WRITE_ERRORS, _body, _error, _json, _ref
from app.scoring.rules import MAX_COUNT, MAX_DAYS, MAX_POINTS, SCORABLE_KINDS

TAG = "scoring"

ADMIN_READ_ERRORS = {**READ_ERRORS, "403": _error("Only admins manage scoring.")}
ADMIN_WRITE_ERRORS = {**WRITE_ERRORS, "403": _error("Only admins manage scoring.")}


def operations() -> dict[str, Any]:
    """Operation objects by endpoint."""
    return {
        "api.scoring_rules_list": {
            "tags": [TAG],
            "description": "Every rule in its order; `next_cursor` is always null.",
            "responses": {"200": _json("ScoringRulePage", "The rules."), **ADMIN_READ_ERRORS},
        },
        "api.scoring_rules_create": {
            "tags": [TAG],
            "description": "A field rule needs `condition` (a segment condition tree); an "
            "activity rule needs `activity_kind` and `within_days` (`event_name` for a "
            "custom event). A background job then recomputes every contact's score.",
            "requestBody": _body("ScoringRuleInput"),
            "responses": {
                "201": _json("ScoringRule", "Created."),
                **ADMIN_WRITE_ERRORS,
                "409": _error("Saved by someone else at the same moment; try again."),
            },
        },
        "api.scoring_rules_get": {
            "tags": [TAG],
            "responses": {
                "200": _json("ScoringRule", "The rule."),
                **ADMIN_READ_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.scoring_rules_patch": {
            "tags": [TAG],
            "description": "Change the values given. Scores are recomputed unless only the "
            "name changed (or the rule stays disabled).",
            "requestBody": _body("ScoringRulePatch"),
            "responses": {
                "200": _json("ScoringRule", "Saved."),
                **ADMIN_WRITE_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.scoring_rules_delete": {
            "tags": [TAG],
            "responses": {
                "204": {"description": "Deleted; scores are recomputed."},
                **ADMIN_WRITE_ERRORS,
                **NOT_FOUND,
            },
        },
        "api.scoring_settings_get": {
            "tags": [TAG],
            "responses": {"200": _json("ScoringSettings", "The settings."), **ADMIN_READ_ERRORS},
        },
        "api.scoring_settings_patch": {
            "tags": [TAG],
            "description": "When a score reaches the threshold (or falls below it), the "
            "contact's timeline gets a `score_threshold` activity with data "
            "`{score, previous, threshold, direction: up|down}`.",
            "requestBody": _body("ScoringSettings"),
            "responses": {"200": _json("ScoringSettings", "Saved."), **ADMIN_WRITE_ERRORS},
        },
        "api.scoring_recompute": {
            "tags": [TAG],
            "description": "Follow the job at /api/v1/jobs/{job_id}; its result counts the "
            "contacts rescored, the scores changed and the threshold crossings.",
            "responses": {
                "202": _json("ScoringJob", "The queued job."),
                "401": _error("No valid token."),
                "403": _error("Only admins manage scoring."),
            },
        },
        "api.contacts_score": {
            "tags": [TAG],
            "description": "Computed now by the same code that stores the scores. While no "
            "rule is enabled, `score` is the stored score (typed or imported) and "
            "`rules` is empty.",
            "responses": {
                "200": _json("ContactScore", "The score and its rules."),
                **READ_ERRORS,
                **NOT_FOUND,
            },
        },
    }


def _rule_properties() -> dict[str, Any]:
    return {
        "name": {"type": "string", "maxLength": 200},
        "kind": {"type": "string", "enum": ["field", "activity"]},
        "points": {
            "type": "integer",
            "minimum": -MAX_POINTS,
            "maximum": MAX_POINTS,
            "description": "Not 0; negative points take points away.",
        },
        "enabled": {"type": "boolean", "default": True},
        "condition": {
            "oneOf": [_ref("Conditions"), {"type": "null"}],
            "description": "Field rules: a segment condition tree (not on lead_score).",
        },
        "activity_kind": {"type": ["string", "null"], "enum": [*SCORABLE_KINDS, None]},
        "event_name": {"type": ["string", "null"], "maxLength": 100},
        "within_days": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_DAYS},
        "max_count": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_COUNT,
            "default": 1,
            "description": "1: the points once; more: the points per activity, up to this "
            "many (most recent first).",
        },
        "decay_days": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": MAX_DAYS,
            "description": "An activity's points halve for every whole `decay_days` of age.",
        },
    }


def schemas() -> dict[str, Any]:
    """Component schemas."""
    rule = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            **_rule_properties(),
            "position": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "required": ["id", "name", "kind", "points", "enabled", "position"],
    }
    return {
        "ScoringRule": rule,
        "ScoringRuleInput": {
            "type": "object",
            "properties": _rule_properties(),
            "required": ["name", "kind", "points"],
            "additionalProperties": False,
        },
        "ScoringRulePatch": {
            "type": "object",
            "properties": _rule_properties(),
            "additionalProperties": False,
        },
        "ScoringRulePage": {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": _ref("ScoringRule")},
                "next_cursor": {"type": "null"},
            },
            "required": ["data", "next_cursor"],
        },
        "ScoringSettings": {
            "type": "object",
            "properties": {
                "threshold": {"type": ["integer", "null"], "minimum": 1, "maximum": 100}
            },
            "additionalProperties": False,
        },
        "ScoringJob": {
            "type": "object",
            "properties": {"job_id": {"type": "integer"}, "status": {"type": "string"}},
            "required": ["job_id", "status"],
        },
        "ContactScore": {
            "type": "object",
            "properties": {
                "score": {"type": "integer", "minimum": 0, "maximum": 100},
                "stored_score": {
                    "type": "integer",
                    "description": "The stored lead_score; differs from `score` only until "
                    "the next recompute (activities age, decay).",
                },
                "threshold": {"type": ["integer", "null"]},
                "computed": {"type": "boolean", "description": "false: no rule is enabled."},
                "total": {
                    "type": ["integer", "null"],
                    "description": "The rules' sum before clipping to 0-100.",
                },
                "rules": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                            "points": {"type": "integer"},
                            "found": {"type": "integer"},
                            "counted": {"type": "integer"},
                            "decayed": {"type": "boolean"},
                        },
                        "required": ["id", "name", "points"],
                    },
                },
            },
            "required": ["score", "threshold", "rules"],
        },
    }
