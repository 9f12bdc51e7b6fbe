"""The duplicate scan as a job: started from the page or the API, pairs with reasons and
clusters, a rescan that keeps decisions, a killed scan that resumes, memory that stays
flat."""

from __future__ import annotations

import re
import tracemalloc

import pytest
from sqlalchemy import func, insert, select

from app.contacts.models import Contact
from app.dedupe.check import find_similar
from app.dedupe.models import DuplicatePair, MatchKey
from app.extensions import db
from app.jobs import runner
from app.jobs.models import Job


def run_jobs(app) -> None:
    with app.app_context():
        runner.run_pending()


def similar(app, values: dict) -> list:
    with app.app_context():
        return find_similar(db.session, values)


def open_pairs(app) -> list[tuple]:
    """(a, b, score, reason codes, cluster) of the open suggestions, sorted."""
    with app.app_context():
        rows = db.session.scalars(select(DuplicatePair).where(DuplicatePair.status == "open"))
        return sorted(
            (p.contact_a_id, p.contact_b_id, p.score, [r["code"] for r in p.reasons], p.cluster_id)
            for p in rows
        )


@pytest.fixture
def base(make_contact):
    """Robert (3 records: a nickname with his phone, a typo at his company), Anna (2:
    the same mailbox written otherwise), and people who only look alike."""
    ids = {}
    ids["robert"] = make_contact(
        email="robert.smith@acme.com",
        first_name="Robert",
        last_name="Smith",
        company="Acme Inc",
        mobile_phone="+33612345678",
    )
    ids["bob"] = make_contact(
        email="bob.smith@gmail.com", first_name="Bob", last_name="Smith", phone="+33612345678"
    )
    ids["robert_typo"] = make_contact(
        email="rsmith@acme.com", first_name="Robert", last_name="Smtih", company="ACME"
    )
    ids["anna"] = make_contact(email="anna.berg@gmail.com", first_name="Anna", last_name="Berg")
    ids["anna2"] = make_contact(email="annaberg+crm@gmail.com", last_name="Berg")
    # a colleague sharing the switchboard, a namesake elsewhere, a relative
    ids["tom"] = make_contact(
        email="tom.kent@acme.com", first_name="Tom", last_name="Kent", company="Acme"
    )
    ids["other_anna"] = make_contact(
        email="anna.berg@yahoo.com", first_name="Anna", last_name="Berg", city="Oslo"
    )
    ids["mary"] = make_contact(
        email="mary.smith@gmail.com", first_name="Mary", last_name="Smith", phone="+33699999999"
    )
    return ids


def test_scan_from_the_page_finds_pairs_with_reasons_and_clusters(app, auth, base):
    auth.login("member")
    response = auth.post("/duplicates/scan")
    assert response.status_code == 303
    job_id = int(re.search(r"/jobs/(\d+)", response.headers["Location"]).group(1))
    page = auth.client.get(f"/jobs/{job_id}")
    assert "Scan for duplicates" in page.text
    run_jobs(app)

    robert, bob, typo = base["robert"], base["bob"], base["robert_typo"]
    pairs = {(a, b): (score, reasons, cluster) for a, b, score, reasons, cluster in open_pairs(app)}
    assert set(pairs) == {(robert, bob), (robert, typo), (base["anna"], base["anna2"])}
    assert "same_phone" in pairs[(robert, bob)][1] and "nickname" in pairs[(robert, bob)][1]
    assert "same_company" in pairs[(robert, typo)][1]
    assert "same_email" in pairs[(base["anna"], base["anna2"])][1]
    # Robert's three records form one cluster named after the smallest id
    assert pairs[(robert, bob)][2] == pairs[(robert, typo)][2] == robert
    assert pairs[(base["anna"], base["anna2"])][2] == base["anna"]

    page = auth.client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert re.search(r'data-count="pairs">3<', page.text)
    assert re.search(r'data-count="clusters">1<', page.text)
    assert re.search(r'data-count="contacts">8<', page.text)
    assert "Review the duplicates" in page.text
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.status == "done" and job.result["pairs"] == 3


def test_a_second_scan_request_joins_the_unfinished_one(app, auth, base):
    auth.login("member")
    first = auth.post("/duplicates/scan").headers["Location"]
    second = auth.post("/duplicates/scan").headers["Location"]
    assert first == second
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1


def test_viewers_cannot_start_a_scan(auth, base):
    auth.login("viewer")
    assert auth.post("/duplicates/scan").status_code == 403


def test_api_scan_answers_the_job(app, api, base):
    assert api("viewer").post("/api/v1/duplicates/scan").status_code == 403
    bad = api("member").post("/api/v1/duplicates/scan", json={"threshold": 500})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "threshold"
    # below 61 names alone would be suggested: not offered
    bad = api("member").post("/api/v1/duplicates/scan", json={"threshold": 50})
    assert bad.status_code == 422 and "61" in bad.json["error"]["message"]
    bad = api("member").post("/api/v1/duplicates/scan", json={"treshold": 70})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "treshold"
    response = api("member").post("/api/v1/duplicates/scan", json={"threshold": 95})
    assert response.status_code == 202
    job = response.json["job"]
    assert job["kind"] == "dedupe_scan" and job["status"] == "queued"
    assert response.headers["Location"].endswith(f"/api/v1/jobs/{job['id']}")
    run_jobs(app)
    done = api("viewer").get(f"/api/v1/jobs/{job['id']}").json
    assert done["status"] == "done"
    assert done["result"]["threshold"] == 95
    # at 95 only the same mailbox remains (same name + phone is 90, typo + company 85)
    assert done["result"]["pairs"] == 1
    assert [(a, b) for a, b, *_ in open_pairs(app)] == [(base["anna"], base["anna2"])]


def test_rescan_replaces_open_pairs_and_never_resuggests_dismissed_ones(app, api, auth, base):
    member = api("member")
    member.post("/api/v1/duplicates/scan")
    run_jobs(app)
    pairs = {(a, b) for a, b, *_ in open_pairs(app)}
    robert, bob, typo = base["robert"], base["bob"], base["robert_typo"]
    with app.app_context():
        dismissed = db.session.scalar(
            select(DuplicatePair.id).where(
                DuplicatePair.contact_a_id == robert, DuplicatePair.contact_b_id == bob
            )
        )
    assert member.post(f"/api/v1/duplicates/{dismissed}/dismiss").status_code == 200
    # the typo gets corrected to another person's name: no longer a duplicate
    changed = member.patch(f"/api/v1/contacts/{typo}", json={"last_name": "Johnson"})
    assert changed.status_code == 200, changed.json

    member.post("/api/v1/duplicates/scan")
    run_jobs(app)
    after = {(a, b) for a, b, *_ in open_pairs(app)}
    assert after == pairs - {(robert, bob), (robert, typo)}
    with app.app_context():
        row = db.session.get(DuplicatePair, dismissed)
        assert row.status == "dismissed"


class Killed(BaseException):
    """The process dies: nothing in the job runner catches this."""


def scan_killed_after(app, auth, commits_before_death: int, while_dead=None) -> list:
    """Start a scan from the page, let it die after some commits, call `while_dead`,
    resume it like a worker restarting; return the phases it had reached at each commit."""
    auth.post("/duplicates/scan")
    with app.app_context():
        job_id = runner.pending_ids()[0]
    phases = []

    def die(job):
        phases.append(job.checkpoint.get("phase"))
        if len(phases) == commits_before_death:
            raise Killed()

    with app.app_context():
        with pytest.raises(Killed):
            runner.execute(job_id, on_commit=die)
        db.session.rollback()
        job = db.session.get(Job, job_id)
        assert job.status == "running" and job.checkpoint
        assert runner.requeue_stalled(stale_after=-1) == [job_id]
    if while_dead is not None:
        while_dead()
    run_jobs(app)
    with app.app_context():
        assert db.session.get(Job, job_id).status == "done"
    return phases


@pytest.mark.parametrize("processes", [1, 2], ids=["in-process", "worker-processes"])
def test_a_killed_scan_resumes_and_finds_the_same_pairs(
    app, auth, runner, base, make_contact, processes
):
    for i in range(30):  # enough contacts and blocks for several chunks
        make_contact(
            email=f"p{i}@example.org",
            first_name=f"Person{i}",
            last_name="Lindqvist",
            company=f"Firm {i % 3}",
            mobile_phone=f"+4670{1000000 + i // 2}",
        )
    app.config.update(
        DEDUPE_KEY_CHUNK=7, DEDUPE_BLOCK_CHUNK=6, DEDUPE_PARALLEL_MIN=0, DEDUPE_PROCESSES=processes
    )
    checks = []
    auth.login("member")
    bob = {"email": "bob.smith@gmail.com", "first_name": "Bob", "last_name": "Smith"}
    assert [m.contact_id for m in similar(app, bob)] == [base["bob"]]
    # the first scan builds every key: killed while doing so, half the keys written and
    # (SQLite) the key index dropped: the create-time check looks nothing up meanwhile
    phases = scan_killed_after(app, auth, 2, while_dead=lambda: checks.append(similar(app, bob)))
    assert phases == ["keys", "keys"]
    assert checks == [[]]
    assert [m.contact_id for m in similar(app, bob)] == [base["bob"]]
    resumed = open_pairs(app)
    assert len(resumed) > 10
    # an uninterrupted scan, rebuilding every key, finds the same
    result = runner.invoke(args=["dedupe", "scan", "--rebuild-keys"])
    assert result.exit_code == 0, result.output
    assert open_pairs(app) == resumed
    # killed while comparing (the keys are current: the first commits compare)
    phases = scan_killed_after(app, auth, 3)
    assert phases[-1] == "pairs"
    assert open_pairs(app) == resumed


def test_worker_processes_find_what_one_process_finds(app, runner, base):
    """A big base is scanned by worker processes (reading and scoring in parallel): the
    same keys, the same pairs, the same figures as in the scan's own process."""
    import json

    _load(app, 1, 3000)

    def scan(processes: int) -> tuple[dict, list, int]:
        app.config.update(DEDUPE_PARALLEL_MIN=0, DEDUPE_PROCESSES=processes)
        result = runner.invoke(args=["dedupe", "scan", "--rebuild-keys"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        with app.app_context():
            keys = db.session.scalar(select(func.count()).select_from(MatchKey))
        return (
            {k: v for k, v in summary.items() if k not in ("job", "seconds")},
            open_pairs(app),
            keys,
        )

    alone, parallel = scan(1), scan(3)
    assert alone == parallel
    assert alone[0]["pairs"] > 30 and alone[0]["keys_rebuilt"]


def test_keys_are_backfilled_for_contacts_written_without_events(app, auth, base):
    """Contacts loaded straight into the table (seeded data) get keys at the next scan."""
    with app.app_context():
        db.session.execute(
            insert(Contact),
            [
                {"email": "bob@acme.com", "first_name": "Bob", "last_name": "Smith",
                 "mobile_phone": "+33612345678", "status": "active", "lead_score": 0,
                 "consent_status": "unknown", "version": 1, "search_text": ""},
            ],
        )  # fmt: skip
        db.session.commit()
        new_id = db.session.scalar(select(Contact.id).where(Contact.email == "bob@acme.com"))
        assert not db.session.scalar(select(func.count()).where(MatchKey.contact_id == new_id))
    auth.login("member")
    auth.post("/duplicates/scan")
    run_jobs(app)
    pairs = {(a, b) for a, b, *_ in open_pairs(app)}
    assert (base["robert"], new_id) in pairs and (base["bob"], new_id) in pairs


FIRST = [f"Fa{i:03d}" for i in range(150)]
LAST = [f"La{i:03d}" for i in range(150)]


def _load(app, start: int, n: int) -> None:
    """n contacts written straight into the table (fast): names from two pools of 150,
    unique together; every 100th is the twin of the one before (same name and phone)."""
    rows = []
    for i in range(start, start + n):
        j = i - 1 if i % 100 == 0 else i
        rows.append(
            {
                "email": f"user{i}@gmail.com",
                "first_name": FIRST[j % 150],
                "last_name": LAST[(j // 150) % 150],
                "mobile_phone": f"+4915{10000000 + j}",
                "status": "active",
                "lead_score": 0,
                "consent_status": "unknown",
                "version": 1,
                "search_text": "",
            }
        )
    with app.app_context():
        db.session.execute(insert(Contact), rows)
        db.session.commit()


def _peak_scan_memory(runner_cli) -> tuple[int, dict]:
    import json

    tracemalloc.start()
    try:
        result = runner_cli.invoke(args=["dedupe", "scan"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    return peak, json.loads(result.stdout.strip().splitlines()[-1])


def test_scan_memory_stays_flat_as_contacts_grow(app, runner):
    app.config.update(DEDUPE_KEY_CHUNK=500, DEDUPE_BLOCK_CHUNK=40)
    _load(app, 1, 2000)
    small, summary = _peak_scan_memory(runner)
    assert summary["contacts"] == 2000 and summary["pairs"] == 20
    _load(app, 2001, 18000)
    big, summary = _peak_scan_memory(runner)
    assert summary["contacts"] == 20000 and summary["pairs"] == 200
    # ten times the contacts, about the same peak (chunks, not the whole base)
    assert big < 1.5 * small, (small, big)


def test_rebuilding_every_key_leaves_the_schema_as_the_migrations_made_it(app, runner, base):
    """A full rebuild drops and re-creates the key index (and on PostgreSQL the key
    table's constraints) for speed: they come back exactly."""
    from tests.core.test_migrations import _diff

    result = runner.invoke(args=["dedupe", "scan", "--rebuild-keys"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _diff(app) == []
        keys = db.session.scalar(select(func.count()).select_from(MatchKey))
        assert keys > 8
    # cascades still work: deleting a contact deletes its keys
    with app.app_context():
        db.session.delete(db.session.get(Contact, base["tom"]))
        db.session.commit()
        left = db.session.scalar(
            select(func.count()).select_from(MatchKey).where(MatchKey.contact_id == base["tom"])
        )
        assert left == 0
