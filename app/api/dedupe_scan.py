"""/api/v1/duplicates/scan: start a duplicate scan (thin: the logic lives in app.dedupe)."""

from __future__ import annotations

from flask import jsonify, request, url_for

from app.api import bp
from app.api.common import json_body, only_keys, validation_error
from app.api.jobs import job_to_dict
from app.auth.permissions import actor, require
from app.dedupe.matcher import MIN_THRESHOLD
from app.dedupe.scan import start_scan
from app.i18n import N_


@bp.post("/api/v1/duplicates/scan")
@require("write")
def duplicates_scan():
    """Start a duplicate scan of all contacts (202 with the job; joins a running one)."""
    body = json_body() if request.get_data() else {}
    only_keys(body, {"threshold"})
    threshold = body.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int)
        or not MIN_THRESHOLD <= threshold <= 100
    ):
        raise validation_error(
            {
                "threshold": N_(
                    "Give a whole number from 61 to 100: below, names alone would be suggested."
                )
            }
        )
    job = start_scan(actor(), threshold=threshold, via="api")
    response = jsonify({"job": job_to_dict(job)})
    response.status_code = 202
    response.headers["Location"] = url_for("api.jobs_get", job_id=job.id)
    return response
