"""OpenAPI documentation of the duplicate scan endpoint (app/api/dedupe_scan.py)."""

from __future__ import annotations

from typing import Any

from app.api.openapi import WRITE_ERRORS, _ref

TAG = "duplicates"


def operations() -> dict[str, Any]:
    return {
        "api.duplicates_scan": {
            "tags": [TAG],
            "description": "Queues a scan of all contacts for duplicates (a background job: "
            "follow it at /api/v1/jobs/{id}; its result counts the pairs, clusters and "
            "contacts scanned). While a scan is queued or running, the same job is "
            "answered instead of a second one. The scan replaces the open suggestions; "
            "pairs dismissed as not duplicates are never suggested again. The body is "
            "optional.",
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("DuplicateScanInput")}},
            },
            "responses": {
                "202": {
                    "description": "The scan job, queued (or the one already running).",
                    "content": {"application/json": {"schema": _ref("DuplicateScanStarted")}},
                },
                **WRITE_ERRORS,
            },
        },
    }


def schemas() -> dict[str, Any]:
    return {
        "DuplicateScanInput": {
            "type": "object",
            "properties": {
                "threshold": {
                    "type": "integer",
                    "minimum": 61,
                    "maximum": 100,
                    "description": "Score from which a pair is suggested (default 80; names "
                    "alone score at most 60).",
                }
            },
            "additionalProperties": False,
        },
        "DuplicateScanStarted": {
            "type": "object",
            "properties": {"job": _ref("Job")},
            "required": ["job"],
        },
    }
