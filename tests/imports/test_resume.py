"""A killed import resumes from its checkpoint and ends exactly like an uninterrupted one.

These tests really kill processes with SIGKILL: the `kontor import` command, and a
`kontor worker` running the job the wizard queued.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from app.contacts.models import Contact, ContactTag, Tag
from app.extensions import db
from app.imports import service
from app.imports.models import Import, ImportRowError
from app.jobs.models import Job
from app.lists.models import ContactList, ListMembership
from app.timeline.models import Activity

KONTOR = str(Path(sys.executable).parent / "kontor")
ROWS = 12_000
BATCH = 100


def write_csv(path: Path, n: int = ROWS) -> Path:
    """A file with accents, in-file duplicates (every 50th row repeats an earlier
    email with a new title) and invalid rows (every 97th)."""
    lines = ["Email,First Name,Last Name,Job Title,City,Tags"]
    for i in range(n):
        email = f"person{i}@example.org"
        title = "Engineer"
        if i % 50 == 49:
            email, title = f"person{i - 25}@example.org", "Manager"
        if i % 97 == 96:
            email = f"person{i} at example.org"
        lines.append(f"{email},Zoé{i},Müller,{title},Köln,imported;batch{i % 3}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def env_for(app, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "KONTOR_INSTANCE": str(app.config["INSTANCE_DIR"]),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "KONTOR_IMPORT_BATCH": str(BATCH),
        "KONTOR_CONTACT_LIMIT": "",
        **extra,
    }
    if app.config.get("REDIS_URL"):
        env["REDIS_URL"] = app.config["REDIS_URL"]
    return env


def snapshot() -> dict:
    """What the import left, without ids and timestamps."""
    db.session.rollback()  # a fresh read: other processes wrote meanwhile
    contacts = {
        c.email: (c.first_name, c.last_name, c.job_title, c.city, c.version)
        for c in db.session.scalars(select(Contact))
    }
    tags = sorted(
        (email, name)
        for email, name in db.session.execute(
            select(Contact.email, Tag.name)
            .join(ContactTag, ContactTag.contact_id == Contact.id)
            .join(Tag, Tag.id == ContactTag.tag_id)
        )
    )
    members = sorted(
        (email, name, status)
        for email, name, status in db.session.execute(
            select(Contact.email, ContactList.name, ListMembership.status)
            .join(ListMembership, ListMembership.contact_id == Contact.id)
            .join(ContactList, ContactList.id == ListMembership.list_id)
        )
    )
    activities = sorted(
        (email, kind, (data or {}).get("action"))
        for email, kind, data in db.session.execute(
            select(Contact.email, Activity.kind, Activity.data).join(
                Activity, Activity.contact_id == Contact.id
            )
        )
    )
    errors = sorted(db.session.scalars(select(ImportRowError.row_number)))
    return {
        "contacts": contacts,
        "tags": tags,
        "members": members,
        "activities": activities,
        "errors": errors,
    }


def wipe() -> None:
    db.session.rollback()
    for model in (ListMembership, ContactTag, Activity, ImportRowError, Import, Contact, Tag):
        db.session.execute(delete(model))
    db.session.execute(delete(ContactList))
    db.session.execute(delete(Job))
    db.session.commit()


def wait_for(predicate, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def job_done_rows() -> int:
    return db.session.scalar(select(Job.done).order_by(Job.id.desc()).limit(1)) or 0


def run_cli(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([KONTOR, *args], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


COMMAND = ["--tag", "resumed", "--list", "Leads"]


def uninterrupted(app, csv_path: Path) -> tuple[dict, dict]:
    wipe()
    summary = run_cli(["import", str(csv_path), *COMMAND], env_for(app))
    return summary, snapshot()


def test_killed_cli_import_resumes_when_the_same_command_runs_again(app, tmp_path):
    csv_path = write_csv(tmp_path / "people.csv")
    env = env_for(app)
    with app.app_context():
        proc = subprocess.Popen(
            [KONTOR, "import", str(csv_path), *COMMAND],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: job_done_rows() >= 2000, what="2000 rows imported")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        db.session.rollback()
        job = db.session.scalar(select(Job))
        assert job.status == "running"  # what a crash leaves behind
        partial = db.session.scalar(select(db.func.count()).select_from(Contact))
        assert 0 < partial < ROWS

        resumed = run_cli(["import", str(csv_path), *COMMAND], env)
        assert resumed["job"] == job.id  # the same job went on, no second import
        after_resume = snapshot()
        assert db.session.scalar(select(db.func.count()).select_from(Import)) == 1

        clean, reference = uninterrupted(app, csv_path)
    for key in ("created", "updated", "skipped", "failed"):
        assert resumed[key] == clean[key], key
    assert after_resume == reference
    assert clean["failed"] == len(reference["errors"]) > 0
    assert clean["created"] == len(reference["contacts"])


def test_worker_killed_mid_import_is_resumed_by_the_next_worker(app, tmp_path, users):
    csv_path = write_csv(tmp_path / "people.csv")
    env = env_for(app, KONTOR_QUEUE_NAME=f"test-{uuid.uuid4().hex[:8]}")
    with app.app_context():
        from app.auth.models import User

        member = db.session.get(User, users["member"].id)
        imp = service.register_local_file(csv_path, actor=member)
        options, errors = service.clean_options({"tags": "resumed", "lists": []})
        assert not errors
        lst = ContactList(name="Leads")
        db.session.add(lst)
        db.session.flush()
        options["list_ids"] = [lst.id]
        imp.options = options
        job = service.start(imp, actor=member)  # queued; the worker picks it up
        job_id = job.id

        worker = subprocess.Popen(
            [KONTOR, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for(lambda: job_done_rows() >= 2000, what="the worker importing")
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        db.session.rollback()
        assert db.session.get(Job, job_id).status == "running"

        worker = subprocess.Popen(
            [KONTOR, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for(
                lambda: db.session.scalar(select(Job.status).where(Job.id == job_id)) == "done",
                what="the second worker finishing the job",
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        resumed = db.session.get(Job, job_id).result
        after_resume = snapshot()
        clean, reference = uninterrupted(app, csv_path)
    assert {k: resumed[k] for k in clean if k in resumed} == {
        k: clean[k] for k in ("created", "updated", "skipped", "failed", "unchanged")
    }
    assert after_resume["contacts"] == reference["contacts"]
    assert after_resume["errors"] == reference["errors"]
    assert after_resume["activities"] == reference["activities"]
    assert {t for t in after_resume["tags"]} == {t for t in reference["tags"]}
    assert after_resume["members"] == reference["members"]


@pytest.mark.parametrize("parallel", ["0", "1"])
def test_an_interrupted_import_never_half_writes_a_batch(app, tmp_path, parallel):
    """Whatever the instant of the kill, contacts come in whole batches with their activity."""
    csv_path = write_csv(tmp_path / "people.csv", n=25_000)
    env = env_for(app, KONTOR_IMPORT_PARALLEL=parallel)
    with app.app_context():
        proc = subprocess.Popen(
            [KONTOR, "import", str(csv_path)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(lambda: job_done_rows() >= 1500, what="some rows imported")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        db.session.rollback()
        job = db.session.scalar(select(Job))
        row = job.checkpoint["row"]
        assert row % BATCH == 0
        contacts = db.session.scalar(select(db.func.count()).select_from(Contact))
        activities = db.session.scalar(select(db.func.count()).select_from(Activity))
        errors = db.session.scalar(select(db.func.count()).select_from(ImportRowError))
        assert contacts == activities == job.checkpoint["created"]
        assert errors == job.checkpoint["failed"]
        assert (
            sum(job.checkpoint[k] for k in ("created", "updated", "unchanged", "skipped", "failed"))
            == row
        )
        time.sleep(1.5)  # an orphaned reader child must not linger and keep writing
        db.session.rollback()
        assert db.session.scalar(select(db.func.count()).select_from(Contact)) == contacts
