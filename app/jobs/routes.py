"""Job pages: recent jobs, one job's live progress (htmx polling) and cancel."""

from __future__ import annotations

from flask import abort, flash, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app import audit
from app.auth.permissions import actor, require
from app.extensions import db
from app.htmx import redirect, render
from app.jobs import bp, runner
from app.jobs.models import Job


def get_job(job_id: int) -> Job:
    """The job or 404."""
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404)
    return job


def may_cancel(job: Job) -> bool:
    """Admins cancel any job; others the jobs they started."""
    user = actor()
    return bool(user) and (user.can("admin") or (user.can("write") and job.user_id == user.id))


@bp.get("/")
@require("read")
def index():
    jobs = db.session.scalars(select(Job).order_by(Job.id.desc()).limit(100)).all()
    return render_template("jobs/index.html", jobs=jobs)


@bp.get("/<int:job_id>")
@require("read")
def show(job_id: int):
    job = get_job(job_id)
    return render("jobs/show.html", "progress", job=job, may_cancel=may_cancel(job))


@bp.post("/<int:job_id>/cancel")
@require("write")
def cancel(job_id: int):
    job = get_job(job_id)
    if not may_cancel(job):
        abort(403)
    if runner.request_cancel(job):
        audit.record("cancel", "job", job.id, {"kind": job.kind}, actor=actor())
        db.session.commit()
        flash(_("Cancelling: the job stops after its current batch."), "info")
    return redirect(url_for("jobs.show", job_id=job.id))
