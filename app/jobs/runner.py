"""Running jobs: a registry of handlers by kind, the claim that makes a job run once,
progress and checkpoints committed with the work, and recovery of jobs whose worker died.

A handler is a function `handler(run: JobRun) -> dict | None`. It reads `run.params`
and `run.checkpoint` (None on a first start), does its work in batches, and after each
batch calls `run.commit(checkpoint)`: the batch's writes, the progress and the
checkpoint land in one transaction, so a job killed at any instant resumes from the
last commit and never repeats or loses a row. It returns the job's result.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from app.extensions import WRITE_INTENT, db
from app.jobs.models import Job
from app.timeutil import utcnow

log = logging.getLogger(__name__)

Handler = Callable[["JobRun"], dict | None]
HANDLERS: dict[str, Handler] = {}
MAX_ERRORS = 50


class JobCancelled(Exception):
    """Raised inside a handler when the user asked to cancel."""


class JobFailed(Exception):
    """A handler gives up with a message for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""

    def decorator(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return decorator


def worker_id() -> str:
    """This process, as recorded on the jobs it runs: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_gone(worker: str | None) -> bool:
    """True when `worker` was a process on this host that no longer exists."""
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobRun:
    """What a handler sees of its job: params, last checkpoint, progress and commit."""

    def __init__(self, job: Job, on_commit: Callable[[Job], None] | None = None):
        self.job = job
        self._on_commit = on_commit
        self.id = job.id
        self.params: dict[str, Any] = dict(job.params or {})
        self.checkpoint: dict[str, Any] | None = job.checkpoint
        self._t0 = time.monotonic()
        self._done0 = job.done or 0

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Set progress; it is saved with the next commit()."""
        self.job.done = done
        if total is not None:
            self.job.total = total
        if message is not None:
            self.job.message = message[:300]
        elapsed = time.monotonic() - self._t0
        if elapsed > 0.5 and done > self._done0:
            self.job.rate = round((done - self._done0) / elapsed, 1)

    def error(self, message: str) -> None:
        """Note a problem the user should see (the first MAX_ERRORS are kept)."""
        errors = list(self.job.errors or [])
        if len(errors) < MAX_ERRORS:
            errors.append(message)
            self.job.errors = errors

    def commit(self, checkpoint: dict[str, Any] | None = None) -> None:
        """Commit the handler's writes together with progress and `checkpoint`,
        then raise JobCancelled if the user asked to cancel."""
        if checkpoint is not None:
            self.job.checkpoint = checkpoint
            self.checkpoint = checkpoint
        self.job.heartbeat_at = utcnow()
        db.session.commit()
        if self._on_commit is not None:
            self._on_commit(self.job)
        if db.session.scalar(select(Job.cancel_requested).where(Job.id == self.id)):
            raise JobCancelled()

    def cancelled(self) -> bool:
        """Has the user asked to cancel? (A cheap query; call it between batches.)"""
        return bool(db.session.scalar(select(Job.cancel_requested).where(Job.id == self.id)))


def create(
    kind: str,
    params: dict[str, Any],
    *,
    title: str | None = None,
    actor: Any = None,
    total: int | None = None,
) -> Job:
    """A queued job row (flushed, not committed: commit, then enqueue())."""
    if kind not in HANDLERS:
        raise KeyError(f"no handler for job kind {kind!r}")
    job = Job(
        kind=kind,
        title=(title or kind)[:300],
        params=params,
        status="queued",
        total=total,
        done=0,
        user_id=getattr(actor, "id", None),
    )
    db.session.add(job)
    db.session.flush()
    return job


def claim(job_id: int) -> bool:
    """Mark a queued job running in this process; False when another has it or it ended."""
    now = utcnow()
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", worker=worker_id(), heartbeat_at=now, finished_at=None)
    )
    db.session.commit()
    return result.rowcount == 1


def execute(job_id: int, on_commit: Callable[[Job], None] | None = None) -> str | None:
    """Run one job in this process if it can be claimed; return its final status.

    `on_commit(job)` is called after each committed batch (the CLI draws its progress bar).
    """
    db.session.rollback()  # transactions from here on begin with the write lock
    token = WRITE_INTENT.set(True)
    try:
        return _execute(job_id, on_commit)
    finally:
        WRITE_INTENT.reset(token)


def _execute(job_id: int, on_commit: Callable[[Job], None] | None) -> str | None:
    if not claim(job_id):
        return None
    job = db.session.get(Job, job_id)
    if job.started_at is None:
        job.started_at = utcnow()
        db.session.commit()
    run = JobRun(job, on_commit)
    fn = HANDLERS.get(job.kind)
    try:
        if fn is None:
            raise JobFailed(f"Unknown job kind {job.kind}.")
        if job.cancel_requested:
            raise JobCancelled()
        result = fn(run)
    except JobCancelled:
        db.session.rollback()
        _finish(job_id, "cancelled")
    except JobFailed as exc:
        db.session.rollback()
        _finish(job_id, "failed", error=exc.message)
    except Exception as exc:  # the job fails; the worker goes on with the next
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        _finish(job_id, "failed", error=f"Unexpected error: {type(exc).__name__}: {exc}")
    else:
        _finish(job_id, "done", result=result)
    return db.session.scalar(select(Job.status).where(Job.id == job_id))


def _finish(job_id: int, status: str, *, result: dict | None = None, error: str | None = None):
    job = db.session.get(Job, job_id)
    job.status = status
    job.finished_at = utcnow()
    job.heartbeat_at = job.finished_at
    job.message = None
    if result is not None:
        job.result = result
    if status == "done" and job.total is not None:
        job.done = max(job.done, job.total)
    if error:
        job.errors = [*(job.errors or [])[: MAX_ERRORS - 1], error]
    db.session.commit()


def request_cancel(job: Job) -> bool:
    """Ask a job to stop; a queued job is cancelled at once. False when it had finished."""
    if job.finished:
        return False
    job.cancel_requested = True
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
    return True


def stalled_jobs(stale_after: int | None = None) -> list[Job]:
    """Running jobs whose worker died: gone from this host, or silent for `stale_after` s."""
    if stale_after is None:
        stale_after = current_app.config.get("JOB_STALE_SECONDS", 120)
    limit = utcnow() - timedelta(seconds=stale_after)
    jobs = db.session.scalars(select(Job).where(Job.status == "running")).all()
    return [
        j
        for j in jobs
        if _worker_gone(j.worker) or j.heartbeat_at is None or j.heartbeat_at < limit
    ]


def requeue_stalled(stale_after: int | None = None) -> list[int]:
    """Put stalled jobs back in the queue (each one exactly once); return their ids."""
    ids = []
    for job in stalled_jobs(stale_after):
        result = db.session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "running", Job.worker == job.worker)
            .values(status="queued", worker=None)
        )
        if result.rowcount == 1:
            ids.append(job.id)
    db.session.commit()
    return ids


def pending_ids() -> list[int]:
    """Queued jobs, oldest first."""
    return list(db.session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.id)))


def run_pending() -> int:
    """Run every queued job in this process (tests and `kontor worker --once`); return how many ran."""
    ran = 0
    while True:
        ids = pending_ids()
        if not ids:
            return ran
        for job_id in ids:
            if execute(job_id) is not None:
                ran += 1


def unfinished(kind: str, **params: Any) -> Job | None:
    """The newest unfinished job of `kind` whose params include `params` (for resuming)."""
    rows = db.session.scalars(
        select(Job)
        .where(Job.kind == kind, or_(Job.status == "queued", Job.status == "running"))
        .order_by(Job.id.desc())
    )
    for job in rows:
        if all((job.params or {}).get(k) == v for k, v in params.items()):
            return job
    return None
