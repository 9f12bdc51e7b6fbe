"""/api/v1/jobs: the progress and result of a background job."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_babel import gettext as _

from app import audit
from app.api import bp
from app.api.common import ApiError
from app.auth.permissions import require
from app.extensions import db
from app.jobs.models import Job


def job_to_dict(job: Job) -> dict[str, Any]:
    """The API form of a job: status, progress (done, total, rate, ETA), errors and result."""
    return {
        "id": job.id,
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "rate": job.rate,
        "eta_seconds": job.eta_seconds,
        "message": job.message,
        "errors": job.errors or [],
        "result": job.result,
        "cancel_requested": job.cancel_requested,
        "created_at": audit.jsonable(job.created_at),
        "started_at": audit.jsonable(job.started_at),
        "finished_at": audit.jsonable(job.finished_at),
    }


def get_job(job_id: int, kind: str | None = None) -> Job:
    """The job (of `kind`, when given) or a 404 API error."""
    job = db.session.get(Job, job_id)
    if job is None or (kind and job.kind != kind):
        raise ApiError(404, _("No such job."))
    return job


@bp.get("/api/v1/jobs/<int:job_id>")
@require("read")
def jobs_get(job_id: int):
    """A background job's status, progress and result."""
    return jsonify(job_to_dict(get_job(job_id)))
