"""`kontor dedupe scan`: the scan job run in the terminal, one JSON summary line last."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.dedupe.models import DuplicatePair
from app.extensions import db
from app.jobs.models import Job


def scan(runner, *args):
    result = runner.invoke(args=["dedupe", "scan", *args])
    assert result.exit_code == 0, result.output + str(result.exception)
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def test_cli_scan_prints_one_json_summary_last(app, runner, make_contact):
    a = make_contact(email="anna.berg@nordic.se", first_name="Anna", last_name="Berg",
                     mobile_phone="+46701234567")  # fmt: skip
    b = make_contact(email="anna@gmail.com", first_name="Ana", last_name="Berg",
                     secondary_phones=["+46 70 123 45 67"])  # fmt: skip
    c = make_contact(email="a.berg@nordic.se", first_name="Anna", last_name="Berg")
    make_contact(email="tom.kent@other.org", first_name="Tom", last_name="Kent")
    result, summary = scan(runner)
    # b and c have only their names in common: one person through a, not a pair
    assert summary["pairs"] == 2 and summary["clusters"] == 1
    assert summary["contacts"] == 4 and summary["threshold"] == 80
    assert summary["seconds"] >= 0 and isinstance(summary["job"], int)
    assert len(result.stdout.strip().splitlines()) == 1  # progress went to stderr
    with app.app_context():
        job = db.session.get(Job, summary["job"])
        assert job.kind == "dedupe_scan" and job.status == "done"
        pairs = db.session.scalars(select(DuplicatePair).order_by(DuplicatePair.id)).all()
        assert {(p.contact_a_id, p.contact_b_id) for p in pairs} == {(a, b), (a, c)}
        assert {p.cluster_id for p in pairs} == {a}
        assert all(p.reasons and p.job_id == job.id for p in pairs)
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "dedupe_scan"))
        assert entry.action == "start" and entry.via == "cli" and entry.entity_id == job.id


def test_cli_scan_threshold(app, runner, make_contact):
    make_contact(email="anna.berg@nordic.se", first_name="Anna", last_name="Berg",
                 mobile_phone="+46701234567")  # fmt: skip
    make_contact(email="anna@gmail.com", first_name="Anna", last_name="Berg",
                 mobile_phone="+46701234567")  # fmt: skip
    _, summary = scan(runner, "--threshold", "95")
    assert summary["pairs"] == 0 and summary["threshold"] == 95
    _, summary = scan(runner, "--threshold", "90")
    assert summary["pairs"] == 1
    bad = runner.invoke(args=["dedupe", "scan", "--threshold", "0"])
    assert bad.exit_code == 2 and "threshold" in bad.output


def test_cli_scan_on_an_empty_base(runner):
    _, summary = scan(runner)
    assert summary["pairs"] == 0 and summary["contacts"] == 0
