"""Large exports as a background job, written to a file under the instance folder.

After each chunk the file is flushed to disk and the job commits a checkpoint
{"after_id", "offset", "rows"}; a job killed halfway truncates the file back to the
last committed offset and goes on after the last contact written, so the finished
file is byte for byte the one an uninterrupted run writes.

Export files hold contacts' personal data: the worker deletes each one
EXPORT_KEEP_DAYS after its job finished (`expire_files`, hourly), and the job page then
says so instead of offering the download.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from huey import crontab

from app import audit
from app.contacts.related import custom_field_infos
from app.exports import service
from app.exports.writers import make_writer
from app.extensions import db
from app.jobs import queue, runner
from app.jobs.models import Job
from app.jobs.runner import JobCancelled, JobRun
from app.timeutil import utcnow

_FILE = re.compile(r"export-(\d+)\.\w+")


def export_dir() -> Path:
    """Where export files are kept (created on first use, readable by Kontor only)."""
    path = Path(current_app.config["INSTANCE_DIR"]) / "exports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def export_path(job_id: int, extension: str) -> Path:
    return export_dir() / f"export-{job_id}.{extension}"


def start(
    fmt: str, scope: service.Scope, *, total: int, title: str, filename: str, actor: Any
) -> Job:
    """A queued export job (flushed: the caller commits, then queue.enqueue(job.id))."""
    params = {"format": fmt, "filename": filename, **scope.as_params()}
    return runner.create("export", params, title=title, actor=actor, total=total)


def _open(path: Path, checkpoint: dict[str, Any] | None):
    """The output file positioned where the last committed chunk ended, and (after_id, rows);
    a fresh file when there is no usable checkpoint."""
    if checkpoint:
        offset = int(checkpoint.get("offset", 0))
        if path.exists() and path.stat().st_size >= offset > 0:
            handle = open(path, "r+b")  # noqa: SIM115  (closed by the handler)
            handle.truncate(offset)
            handle.seek(offset)
            return handle, int(checkpoint["after_id"]), int(checkpoint["rows"])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb"), 0, 0


@runner.handler("export")
def run_export(run: JobRun) -> dict[str, Any]:
    """Write the export file chunk by chunk, committing a checkpoint after each."""
    params = run.params
    fmt = params["format"]
    scope = service.Scope.from_params(params)
    infos = custom_field_infos(db.session)
    writer = make_writer(fmt, service.custom_columns(infos))
    cq, target, _notices = service.resolve(scope, infos)
    total = service.count_scope(cq)
    path = export_path(run.id, writer.extension)
    handle, after_id, rows = _open(path, run.checkpoint)
    try:
        if after_id == 0 and rows == 0:
            handle.write(writer.begin().encode("utf-8"))
        run.progress(rows, total)
        for records, last_id in service.record_chunks(target, after_id=after_id, infos=infos):
            text = "".join(writer.item(r, first=rows + i == 0) for i, r in enumerate(records))
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            rows += len(records)
            run.progress(rows, max(total, rows))
            run.commit({"after_id": last_id, "offset": handle.tell(), "rows": rows})
        handle.write(writer.end().encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    except JobCancelled:
        handle.close()
        path.unlink(missing_ok=True)
        raise
    finally:
        if not handle.closed:
            handle.close()
    run.progress(rows, rows)
    return {
        "path": str(path),
        "filename": params.get("filename") or service.download_name(fmt),
        "format": fmt,
        "rows": rows,
        "size": path.stat().st_size,
    }


def expire_files(now: datetime | None = None) -> int:
    """Delete the export files kept longer than EXPORT_KEEP_DAYS: those of jobs that
    finished that long ago (a finished job's result then carries ``expired_at``) and
    stray ones that old. Files of queued or running jobs stay. Answers how many went."""
    days = current_app.config.get("EXPORT_KEEP_DAYS", 7)
    if not days:
        return 0
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    removed = 0
    for path in sorted(export_dir().glob("export-*")):
        match = _FILE.fullmatch(path.name)
        job = db.session.get(Job, int(match.group(1))) if match else None
        if job is not None and job.kind == "export":
            if job.status in ("queued", "running") or (job.finished_at or now) > cutoff:
                continue
        else:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
            if modified > cutoff:
                continue
            job = None
        path.unlink(missing_ok=True)
        removed += 1
        if job is not None and job.result:
            job.result = {**job.result, "expired_at": audit.jsonable(now)}
    db.session.commit()
    return removed


@queue.periodic(crontab(minute="23"), "kontor.exports_expire")
def expire_hourly() -> None:
    """The worker's hourly clean-up of old export files."""
    expire_files()
