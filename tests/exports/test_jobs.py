"""Large exports as background jobs: the job page's download, who may download, resuming
after a crash byte for byte, and memory that stays flat as the export grows."""

from __future__ import annotations

import os
import re
import tracemalloc
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.contacts.models import Contact
from app.exports import jobs, service
from app.extensions import db
from app.jobs import runner as jobs_runner
from app.jobs.models import Job
from tests.exports.conftest import export


def end_of_first_contact(fmt: str, data: bytes) -> int:
    """The offset just after the first contact's output in a finished export file."""
    if fmt == "csv":  # after the header line and the first row
        return data.index(b"\r\n", data.index(b"\r\n") + 2) + 2
    if fmt == "vcard":
        return data.index(b"END:VCARD\r\n") + len(b"END:VCARD\r\n")
    return data.index(b",\n{")  # "[\n{first}" then ",\n{second}"


@pytest.fixture
def small_limit(app):
    """Every export of more than one contact runs as a job."""
    app.config["EXPORT_INLINE_LIMIT"] = 1


def _run_jobs(app) -> None:
    with app.app_context():
        jobs_runner.run_pending()


def _job(app, job_id: int) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        db.session.expunge(job)
        return job


def _start_job(auth, fmt: str = "csv", **kwargs) -> int:
    response = export(auth, fmt, "all", **kwargs)
    assert response.status_code == 303
    match = re.fullmatch(r"/jobs/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


@pytest.mark.parametrize("fmt", ["csv", "vcard", "json"])
def test_large_export_runs_as_a_job_with_a_download(app, auth, people, small_limit, fmt):
    auth.login("member")
    job_id = _start_job(auth, fmt)
    queued = auth.client.get(f"/jobs/{job_id}").data.decode()
    assert "Waiting for a worker" in queued
    _run_jobs(app)
    job = _job(app, job_id)
    assert job.status == "done", job.errors
    assert job.result["rows"] == 3
    assert Path(job.result["path"]).parent == Path(app.config["INSTANCE_DIR"]) / "exports"

    page = auth.client.get(f"/jobs/{job_id}").data.decode()
    assert "3 contacts exported." in page
    assert f'href="/exports/{job_id}/download"' in page
    extension = {"csv": "csv", "vcard": "vcf", "json": "json"}[fmt]
    assert "contacts-" in page and f".{extension}" in page
    assert re.search(r"\(\d+(\.\d)? (B|byte|kB)\)", page), page

    download = auth.client.get(f"/exports/{job_id}/download")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment; filename=contacts-")
    assert download.headers["Content-Disposition"].endswith(f".{extension}")
    assert download.headers["Cache-Control"] == "no-store"
    app.config["EXPORT_INLINE_LIMIT"] = 1000
    inline = export(auth, fmt, "all")
    assert inline.status_code == 200
    assert download.data == inline.data  # the same file, whichever way it was made


def test_only_the_exporter_or_an_admin_downloads(app, auth, people, small_limit):
    auth.login("member")
    job_id = _start_job(auth)
    _run_jobs(app)
    auth.logout()
    auth.login("viewer")
    assert auth.client.get(f"/exports/{job_id}/download").status_code == 403
    assert auth.client.get("/exports/999999/download").status_code == 404
    auth.logout()
    auth.login("admin")
    assert auth.client.get(f"/exports/{job_id}/download").status_code == 200
    with app.app_context():
        Path(db.session.get(Job, job_id).result["path"]).unlink()
    assert auth.client.get(f"/exports/{job_id}/download").status_code == 404


def test_export_files_are_deleted_after_the_keeping_days(app, auth, people, small_limit):
    auth.login("member")
    job_id = _start_job(auth)
    _run_jobs(app)
    path = Path(_job(app, job_id).result["path"])
    stray = path.with_name("export-999999.csv")  # a file no job knows
    stray.write_bytes(b"old")
    page = auth.client.get(f"/jobs/{job_id}").data.decode()
    assert "The file is kept for 7 days." in page
    finished = _job(app, job_id).finished_at
    with app.app_context():
        assert jobs.expire_files(now=finished + timedelta(days=6)) == 0  # not yet
        running = _start_job(auth)  # a job still queued keeps its (partial) file
        partial = path.with_name(f"export-{running}.csv")
        partial.write_bytes(b"partial")
        old = (finished - timedelta(days=30)).replace(tzinfo=UTC).timestamp()
        for file in (stray, partial):
            os.utime(file, (old, old))
        before = set(path.parent.iterdir())
        removed = jobs.expire_files(now=finished + timedelta(days=8))
        assert removed == len(before - set(path.parent.iterdir()))
    assert not path.exists() and not stray.exists() and partial.exists()

    page = auth.client.get(f"/jobs/{job_id}").data.decode()
    assert "The file was deleted 7 days after the export" in page
    assert f'href="/exports/{job_id}/download"' not in page
    gone = auth.client.get(f"/exports/{job_id}/download")
    assert gone.status_code == 410
    assert "export the contacts again" in gone.data.decode()


@pytest.mark.parametrize("fmt", ["csv", "vcard", "json"])
def test_a_killed_export_resumes_byte_for_byte(app, auth, people, small_limit, monkeypatch, fmt):
    monkeypatch.setattr(service, "CHUNK", 1)  # a checkpoint after every contact
    auth.login("member")
    whole_id = _start_job(auth, fmt)
    _run_jobs(app)
    whole = Path(_job(app, whole_id).result["path"]).read_bytes()

    # A second export whose worker died after committing its first chunk, in the middle
    # of writing the second: the file holds a torn record past the committed offset.
    job_id = _start_job(auth, fmt)
    cut = end_of_first_contact(fmt, whole)
    with app.app_context():
        first_id = db.session.scalar(
            select(func.min(Contact.id)).where(Contact.archived_at.is_(None))
        )
        path = jobs.export_path(job_id, Path(_job(app, whole_id).result["path"]).suffix[1:])
        path.write_bytes(whole[:cut] + whole[cut : cut + 17])
        job = db.session.get(Job, job_id)
        job.checkpoint = {"after_id": first_id, "offset": cut, "rows": 1}
        job.done = 1
        db.session.commit()
        assert jobs_runner.execute(job_id) == "done"
        job = db.session.get(Job, job_id)
        assert job.result["rows"] == 3
        assert Path(job.result["path"]) == path
    assert path.read_bytes() == whole


def test_a_checkpoint_past_the_end_of_the_file_starts_over(app, auth, people, small_limit):
    auth.login("member")
    whole_id = _start_job(auth, "json")
    _run_jobs(app)
    whole = Path(_job(app, whole_id).result["path"]).read_bytes()
    job_id = _start_job(auth, "json")
    with app.app_context():
        job = db.session.get(Job, job_id)
        job.checkpoint = {"after_id": 10**9, "offset": 10**6, "rows": 99}  # the file was lost
        db.session.commit()
        jobs_runner.run_pending()
        assert Path(db.session.get(Job, job_id).result["path"]).read_bytes() == whole


def _peak_bytes(runner, out: Path, n: int) -> int:
    """Peak memory allocated while `kontor export` writes every contact (n of them) to a file."""
    args = ["export", "--format", "csv", "--query", "archived=include", "-o", str(out)]
    tracemalloc.start()
    try:
        result = runner.invoke(args=args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert f"Exported {n} contacts" in result.stderr
    return peak


def test_memory_stays_flat(app, runner, tmp_path):
    from app.seed import seed

    with app.app_context():
        seed(contacts=2_000, activities=0, seed=1)
    _peak_bytes(runner, tmp_path / "warm.csv", 2_000)  # first-use caches (SQL compilation)
    small = _peak_bytes(runner, tmp_path / "small.csv", 2_000)
    with app.app_context():
        seed(contacts=18_000, activities=0, seed=2)
    large = _peak_bytes(runner, tmp_path / "large.csv", 20_000)
    print(f"peak: {small} bytes for 2,000 contacts, {large} for 20,000")
    assert large < 2 * small, (small, large)
