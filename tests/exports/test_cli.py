"""`kontor export`: formats, --list, --query, -o, and a CSV round trip through `kontor import`."""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update

from app.audit.models import AuditEntry
from app.companies.models import Company
from app.contacts.models import Contact, CustomFieldValue, Tag
from app.extensions import db
from app.lists.models import ContactList
from tests.exports.conftest import csv_rows


def test_export_to_stdout_and_file(app, runner, people, tmp_path):
    result = runner.invoke(args=["export", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["email"] for d in data] == ["bob@example.com", "ana@example.com", "dora@example.com"]
    assert "Exported 3 contacts to stdout." in result.stderr

    out = tmp_path / "newsletter.csv"
    result = runner.invoke(args=["export", "--list", "newsletter", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Exported 2 contacts to {out}." in result.stderr
    assert sorted(r["email"] for r in csv_rows(out.read_bytes())) == [
        "ana@example.com",
        "carl@example.com",
    ]

    result = runner.invoke(args=["export", "--format", "vcard", "--query", "tag=Paris"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.count("BEGIN:VCARD") == 1 and "EMAIL;PREF=1:ana@example.com" in result.stdout
    )

    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
        changes = [(e.via, e.changes) for e in entries]
    assert ("cli", {"format": "json", "scope": "all", "count": 3}) in changes
    assert ("cli", {"format": "vcard", "scope": "filter", "count": 1}) in changes


def test_unknown_list_or_filter_is_an_error(runner, people):
    result = runner.invoke(args=["export", "--list", "Nope"])
    assert result.exit_code == 1
    assert "No list named 'Nope'." in result.stderr
    result = runner.invoke(args=["export", "--query", "colour=blue"])
    assert result.exit_code == 1
    assert 'Ignored unknown filter "colour"' in result.stderr


def _round_trip(app, runner, tmp_path) -> tuple[list[dict], list[dict]]:
    """Export every contact to CSV, empty the contacts, import the file, export again."""
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    result = runner.invoke(args=["export", "--query", "archived=include", "-o", str(first)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        for model in (CustomFieldValue, Contact, Company, Tag, ContactList):
            db.session.execute(delete(model))
        db.session.commit()
    result = runner.invoke(args=["import", str(first)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["export", "--query", "archived=include", "-o", str(second)])
    assert result.exit_code == 0, result.output

    def comparable(path):
        # Timestamps are the import's; the import marks consent it did not get as "imported".
        skip = ("created_at", "updated_at", "consent_type")
        rows = csv_rows(path.read_bytes())
        return sorted(
            ({k: v for k, v in r.items() if k not in skip} for r in rows),
            key=lambda r: r["email"],
        )

    return comparable(first), comparable(second)


def test_csv_round_trip_through_import(app, runner, people, tmp_path):
    """Export, empty the contacts, import the file: the same contacts, tags, lists, company
    and custom values, formula-like values included."""
    with app.app_context():
        # Leading whitespace cannot come back (every input is trimmed), nor can a reference
        # to a contact of the same file yet (see the test below).
        db.session.execute(
            update(Contact.__table__)
            .where(Contact.email == "bob@example.com")
            .values(job_title="x", department="=1+1")
        )
        db.session.execute(update(Contact.__table__).values(reports_to_id=None))
        db.session.commit()
    before, after = _round_trip(app, runner, tmp_path)
    assert len(after) == 4
    assert after == before


def test_csv_round_trip_keeps_references_within_the_file(app, runner, people, tmp_path):
    before, after = _round_trip(app, runner, tmp_path)
    assert [r["reports_to"] for r in after] == [r["reports_to"] for r in before]
