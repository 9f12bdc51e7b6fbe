"""`kontor import` end to end: what lands in the database for good and nasty files,
re-runs that add nothing, policies, undo, vCards. The command runs the same job as the
wizard, in the command's own process."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select

from app.contacts.models import Contact, CustomField, Tag
from app.extensions import db
from app.imports import service
from app.imports.models import Import, ImportRowError
from app.jobs import runner
from app.lists.models import ContactList, ListMembership
from app.timeline.models import Activity


def run_import(runner_, path, *args):
    result = runner_.invoke(args=["import", str(path), *args])
    assert result.exit_code == 0, result.output + str(result.exception)
    return json.loads(result.stdout.strip().splitlines()[-1])


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def contact(email: str) -> Contact:
    db.session.rollback()
    return db.session.scalar(select(Contact).where(Contact.email == email))


def errors() -> list[tuple[int, str]]:
    db.session.rollback()
    return [
        (e.row_number, e.reason)
        for e in db.session.scalars(select(ImportRowError).order_by(ImportRowError.row_number))
    ]


def test_running_the_same_import_twice_adds_nothing(app, runner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "Email,First Name,Last Name,Company,Tags\n"
        "ada@example.com,Ada,Lovelace,Analytical Engines,math\n"
        "ALAN@EXAMPLE.COM,Alan,Turing,Bletchley,math;crypto\n",
        encoding="utf-8",
    )
    with app.app_context():
        first = run_import(runner, path, "--list", "Pioneers")
        again = run_import(runner, path, "--list", "Pioneers")
        assert (first["created"], first["updated"], first["failed"]) == (2, 0, 0)
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
        assert count(Contact) == 2
        assert count(ListMembership) == 2
        assert count(Activity) == 2  # a re-run that changes nothing leaves no activity
        alan = contact("alan@example.com")
        assert alan.first_name == "Alan" and alan.company_id is not None
        assert sorted(t.name for t in db.session.scalars(select(Tag))) == ["crypto", "math"]


def test_nasty_rows_fail_alone_with_a_reason_and_the_rest_is_imported(app, runner, tmp_path):
    long_name = "x" * 100_000
    buffer = io.StringIO()
    w = csv.writer(buffer)
    w.writerow(["Email", "First Name", "Last Name", "Notes"])
    w.writerow(["good@example.com", "Good", "Row", ""])
    w.writerow(["not-an-email", "Bad", "Email", ""])
    w.writerow(["long@example.com", long_name, "Name", ""])
    w.writerow(["multi@example.com", "Line\nBreak", "Name", "kept"])
    w.writerow(["ragged@example.com", "Too", "Many", "cells", "extra", "more"])
    w.writerow(["short@example.com"])
    w.writerow(["=cmd|' /C calc'!A0@evil.com", '=HYPERLINK("http://x")', "<b>bold</b>", ""])
    w.writerow(["html@example.com", "<script>alert(1)</script>", "=1+2", ""])
    path = tmp_path / "nasty.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    with app.app_context():
        summary = run_import(runner, path)
        assert summary["created"] == 4 and summary["failed"] == 4
        reasons = dict(errors())
        assert "email" in reasons[2]
        assert "Too long" in reasons[3]
        assert "6 cells" in reasons[5] and "4" in reasons[5]
        assert "email" in reasons[7]
        assert contact("multi@example.com").first_name == "Line\nBreak"
        assert contact("short@example.com").first_name is None
        html = contact("html@example.com")
        assert html.first_name == "<script>alert(1)</script>"  # stored as text, escaped on output
        assert html.last_name == "=1+2"
        assert contact("long@example.com") is None


def test_error_csv_gives_back_the_original_rows_with_reasons(app, runner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Email,Name\nok@example.com,Ok\nbroken,=SUM(A1)\n", encoding="utf-8")
    with app.app_context():
        run_import(runner, path, "--map", "Name=first_name")
        imp = db.session.scalar(select(Import))
        text = "".join(service.error_csv(imp)).lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["Email", "Name", "Row", "Error"]
        assert rows[1][:3] == ["broken", "'=SUM(A1)", "2"]  # neutralised for spreadsheets
        assert "email" in rows[1][3]


def test_a_file_with_only_headers_imports_nothing_and_says_so(app, runner, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("Email,First Name\n", encoding="utf-8")
    with app.app_context():
        summary = run_import(runner, path)
        assert summary == {**summary, "created": 0, "updated": 0, "failed": 0}
        assert count(Contact) == 0


def test_unreadable_files_are_refused_before_anything_is_written(app, runner, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 40)
    with app.app_context():
        for path, message in ((empty, "empty"), (garbage, "not a text file")):
            result = runner.invoke(args=["import", str(path)])
            assert result.exit_code != 0
            assert message in result.output
        assert count(Import) == 0 and count(Contact) == 0


def test_policies_for_existing_emails(app, runner, tmp_path):
    with app.app_context():
        from app.contacts.service import create_contact

        create_contact({"email": "known@example.com", "first_name": "Old"})
        db.session.commit()
    path = tmp_path / "p.csv"
    path.write_text("Email,First Name\nKnown@example.com,New\nfresh@example.com,Fresh\n")
    with app.app_context():
        skip = run_import(runner, path, "--policy", "skip")
        assert (skip["created"], skip["skipped"]) == (1, 1)
        assert contact("known@example.com").first_name == "Old"
        create = run_import(runner, path, "--policy", "create")
        assert (create["created"], create["failed"]) == (0, 2)  # fresh@ exists now too
        assert "exists already" in errors()[-1][1]
        update = run_import(runner, path, "--policy", "update")
        assert update["updated"] == 1
        assert contact("known@example.com").first_name == "New"


def test_dry_run_counts_but_saves_nothing(app, runner, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("Email,First Name\na@example.com,A\nbad,B\n")
    with app.app_context():
        summary = run_import(runner, path, "--dry-run", "--list", "Trial")
        assert (summary["created"], summary["failed"], summary["job"]) == (1, 1, None)
        assert count(Contact) == 0 and count(Import) == 0 and count(ContactList) == 0


def test_undo_restores_changed_fields_but_keeps_later_edits(app, runner, tmp_path):
    with app.app_context():
        from app.contacts.service import create_contact, update_contact

        create_contact({"email": "kept@example.com", "first_name": "Kim", "city": "Oslo"})
        create_contact({"email": "back@example.com", "first_name": "Bo", "city": "Rome"})
        db.session.commit()
    path = tmp_path / "p.csv"
    path.write_text(
        "Email,First Name,City\n"
        "kept@example.com,Kimberly,Bergen\n"
        "back@example.com,Bob,Milan\n"
        "new@example.com,Nina,Paris\n"
    )
    with app.app_context():
        run_import(runner, path, "--tag", "fair", "--list", "Visitors")
        kept = contact("kept@example.com")
        update_contact(kept, {"city": "Trondheim"})  # edited after the import
        db.session.commit()
        imp = db.session.scalar(select(Import))
        service.undo(imp)
        runner_ran = runner_run_pending()
        assert runner_ran == 1
        assert contact("new@example.com") is None
        back = contact("back@example.com")
        assert (back.first_name, back.city) == ("Bo", "Rome")
        kept = contact("kept@example.com")
        assert (kept.first_name, kept.city) == ("Kim", "Trondheim")
        assert count(ListMembership) == 0
        assert db.session.scalar(select(Import)).state == "undone"
        job = db.session.get(runner_job_model(), db.session.scalar(select(Import)).undo_job_id)
        # The "fair" tag the import created went too; the list --list made is the user's.
        removed = {"companies": 0, "tags": 1, "lists": 0}
        assert job.result == {"deleted": 1, "restored": 3, "kept": 1, "removed": removed}


def runner_run_pending() -> int:
    return runner.run_pending()


def runner_job_model():
    from app.jobs.models import Job

    return Job


def test_vcards_import_with_their_phones_and_company(app, runner, tmp_path):
    path = tmp_path / "cards.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Durand;Émilie;;;\r\nFN:Émilie Durand\r\n"
        "EMAIL;TYPE=INTERNET,pref:emilie@example.fr\r\nTEL;TYPE=CELL:+33 6 12 34 56 78\r\n"
        "ORG:Acme SA;Ventes\r\nTITLE:Directrice\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob Smith\r\nN:Smith;Bob;;;\r\n"
        "EMAIL:bob@example.com\r\nEND:VCARD\r\n",
        encoding="utf-8",
    )
    with app.app_context():
        summary = run_import(runner, path)
        assert summary["created"] == 2
        emilie = contact("emilie@example.fr")
        assert (emilie.first_name, emilie.mobile_phone, emilie.department) == (
            "Émilie",
            "+33612345678",
            "Ventes",
        )


def test_a_new_custom_field_column_is_created_and_filled(app, runner, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("Email,Favourite colour\nc@example.com,blue\n")
    with app.app_context():
        run_import(runner, path, "--map", "Favourite colour=new:Favourite colour")
        field = db.session.scalar(select(CustomField))
        assert field.label == "Favourite colour"
        from app.contacts.service import custom_values

        assert custom_values(contact("c@example.com").id) == {field.name: ["blue"]}
