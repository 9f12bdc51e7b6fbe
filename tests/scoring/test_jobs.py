"""The recompute job: chunks with a checkpoint (a killed job resumes after the last
committed chunk), `kontor scoring recompute`, the nightly run and the job page."""

from __future__ import annotations

import json
import socket

from sqlalchemy import select

from app.extensions import db
from app.jobs.models import Job
from app.scoring import jobs as scoring_jobs


def _recompute_jobs(app) -> list[Job]:
    with app.app_context():
        rows = db.session.scalars(
            select(Job).where(Job.kind == "scoring_recompute").order_by(Job.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_rule_changes_queue_one_recompute_until_it_starts(app, scoring, run_jobs):
    scoring.field_rule("A", 20, {"field": "country", "op": "eq", "value": "FR"})
    scoring.field_rule("B", 10, {"field": "city", "op": "is_set"})
    assert len(_recompute_jobs(app)) == 1  # the second change reuses the waiting job
    assert run_jobs() == 1
    scoring.field_rule("C", 10, {"field": "city", "op": "is_not_set"})
    assert len(_recompute_jobs(app)) == 2


def test_a_killed_recompute_resumes_from_its_checkpoint(app, scoring, run_jobs, monkeypatch):
    ids = [scoring.contact(email=f"c{i}@example.com", country="FR") for i in range(7)]
    assert all(scoring.score(i) == 0 for i in ids)  # no rule yet
    scoring.threshold(10)
    scoring.field_rule("French", 20, {"field": "country", "op": "eq", "value": "FR"})
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "scoring_recompute"))
        # Killed after committing its first chunk (the first 3 contacts): running in a
        # process that is gone, with the chunk's checkpoint.
        job.status = "running"
        job.worker = f"{socket.gethostname()}:999999999"
        job.checkpoint = {"after_id": ids[2], "rescored": 3, "changed": 3, "up": 3, "down": 0}
        job.done = 3
        db.session.commit()
        job_id = job.id
    from app.jobs import runner as job_runner

    with app.app_context():
        assert job_runner.requeue_stalled() == [job_id]  # as a worker does when it starts
    monkeypatch.setattr(scoring_jobs, "CHUNK", 2)  # several chunks, each committed
    assert run_jobs() == 1
    # The first 3 were not done again (still 0: the "killed" run's work is simulated);
    # the rest were, in chunks of 2.
    assert [scoring.score(i) for i in ids] == [0, 0, 0, 20, 20, 20, 20]
    assert all(scoring.thresholds(i) == [] for i in ids[:3])
    assert all(len(scoring.thresholds(i)) == 1 for i in ids[3:])
    [job] = _recompute_jobs(app)
    assert job.status == "done"
    assert job.result["rescored"] == 7
    assert job.result["changed"] == 7
    assert job.result["crossings_up"] == 7
    assert job.checkpoint["after_id"] == ids[-1]


def test_cli_recompute_prints_progress_and_a_json_summary(app, scoring, runner):
    scoring.contact(email="a@example.com", country="FR")
    scoring.contact(email="b@example.com")
    with app.app_context():
        from app.scoring.models import ScoringRule

        # A rule that exists but whose recompute has not run (no worker yet).
        db.session.add(
            ScoringRule(name="French", kind="field", points=20, position=0, enabled=True,
                        condition={"field": "country", "op": "eq", "value": "FR"}, max_count=1)
        )  # fmt: skip
        db.session.commit()
    result = runner.invoke(args=["scoring", "recompute"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "done"
    assert (summary["rescored"], summary["changed"]) == (2, 1)
    assert "Recomputing lead scores with 1 enabled rules" in result.stderr
    scores = {
        c["email"]: c["lead_score"] for c in scoring.member.get("/api/v1/contacts").json["data"]
    }
    assert scores == {"a@example.com": 20, "b@example.com": 0}


def test_cli_resumes_a_recompute_whose_process_died(app, scoring, runner):
    ids = [scoring.contact(email=f"c{i}@example.com", country="FR") for i in range(4)]
    scoring.field_rule("French", 20, {"field": "country", "op": "eq", "value": "FR"})
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "scoring_recompute"))
        job.status = "running"
        job.worker = f"{socket.gethostname()}:999999999"
        job.checkpoint = {"after_id": ids[1], "rescored": 2, "changed": 2, "up": 0, "down": 0}
        db.session.commit()
        job_id = job.id
    result = runner.invoke(args=["scoring", "recompute"])
    assert result.exit_code == 0, result.output
    assert f"Resuming job {job_id}" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["job"] == job_id and summary["rescored"] == 4
    assert [scoring.score(i) for i in ids] == [0, 0, 20, 20]


def test_the_nightly_run_is_a_periodic_task_queued_only_with_rules(app, scoring, run_jobs):
    from datetime import datetime

    huey = app.extensions["huey"]
    due_at_night = {task.name: task for task in huey.read_periodic(datetime(2030, 1, 1, 3, 17))}
    due_by_day = {task.name for task in huey.read_periodic(datetime(2030, 1, 1, 15, 17))}
    assert "kontor.scoring_daily" in set(due_at_night) - due_by_day
    nightly = due_at_night["kontor.scoring_daily"]
    huey.execute(nightly)  # what the worker does at 03:17
    assert _recompute_jobs(app) == []  # no rule: nothing to recompute
    scoring.field_rule("A", 20, {"field": "country", "op": "eq", "value": "FR"})
    run_jobs()
    huey.execute(nightly)
    assert run_jobs() == 1
    [_, daily] = _recompute_jobs(app)
    assert daily.params == {"reason": "daily"}
    assert daily.status == "done"


def test_the_job_page_shows_progress_and_the_result(app, auth, scoring, run_jobs):
    scoring.contact(email="a@example.com", country="FR")
    scoring.field_rule("French", 20, {"field": "country", "op": "eq", "value": "FR"})
    [job] = _recompute_jobs(app)
    auth.login("viewer")
    queued = auth.client.get(f"/jobs/{job.id}")
    assert b"<progress" in queued.data and b"Recompute lead scores" in queued.data
    run_jobs()
    done = auth.client.get(f"/jobs/{job.id}")
    assert b'data-count="rescored">1<' in done.data
    assert b'data-count="changed">1<' in done.data
    assert b'data-count="crossings_up">0<' in done.data
