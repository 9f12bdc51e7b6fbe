"""The import wizard through its pages: upload, columns, options, preview, job, errors, undo."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select

from app.auth.models import User
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.service import create_contact
from app.extensions import db
from app.imports.models import Import
from app.jobs import runner as jobs
from app.lists.models import ContactList, ListMembership
from tests.conftest import PASSWORD

FRENCH = (
    "Prénom;Nom;Courriel;Société;Remarque;Fonction\r\n"
    "Élodie;Dupont;elodie@example.fr;Café Crème;Rencontrée au salon;Gérante\r\n"
    "Jean;Martin;jean@example.com;ACME;Client fidèle;Directeur\r\n"
    "Zoé;Faux;pas-un-email;X;;\r\n"
).encode("cp1252")
OPTED_IN = "This import marks contacts as Opted In."


def upload(auth, data: bytes, name: str = "contacts.csv"):
    return auth.post("/imports/new", {"file": (io.BytesIO(data), name)})


def import_id(response) -> int:
    match = re.search(r"/imports/(\d+)/", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def run_jobs(app) -> None:
    with app.app_context():
        jobs.run_pending()


def selected(html: str, column: int) -> str:
    """The value selected in the mapping page's select for a column."""
    select_html = re.search(rf'<select name="col_{column}".*?</select>', html, re.S).group(0)
    match = re.search(r'<option value="([^"]*)" selected', select_html)
    return match.group(1) if match else ""


def mapping_form(html: str, headers: int, **changes: str) -> dict[str, str]:
    form = {f"col_{i}": selected(html, i) for i in range(headers)}
    form.update(changes)
    return form


def options_form(**changes) -> dict:
    form = {
        "policy": "update",
        "consent_status": "",
        "consent_type": "imported",
        "source": "",
        "owner": "",
        "tags": "",
        "list_status": "subscribed",
    }
    form.update(changes)
    return form


def count_imports(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Import))


def test_french_file_from_upload_to_undo(app, auth, users):
    with app.app_context():
        jean = create_contact(
            {
                "email": "jean@example.com",
                "first_name": "Jean",
                "last_name": "Martin-Ancien",
                "job_title": "Stagiaire",
            }
        )
        prospects = ContactList(name="Prospects")
        db.session.add(prospects)
        db.session.commit()
        jean_id, list_id = jean.id, prospects.id
    auth.login("member")

    page = auth.client.get("/imports/new")
    assert page.status_code == 200
    assert "Upload" in page.text and "Preview" in page.text  # the stepper
    response = upload(auth, FRENCH, "export.csv")
    assert response.status_code == 303
    iid = import_id(response)
    assert response.headers["Location"].endswith(f"/imports/{iid}/mapping")

    # Columns: the French headers are recognised, the samples decoded from cp1252.
    page = auth.client.get(f"/imports/{iid}/mapping")
    html = page.text
    assert page.status_code == 200
    assert "Café Crème" in html and "Élodie" in html
    assert [selected(html, i) for i in range(6)] == [
        "first_name",
        "last_name",
        "email",
        "company",
        "",
        "job_title",
    ]
    assert "Create a custom field \u2018Remarque\u2019" in html
    form = mapping_form(html, 6, col_4="new:Remarque")
    response = auth.post(f"/imports/{iid}/mapping", form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/imports/{iid}/options")

    # Options: a tag, a list, default consent Opted In (a warning says what that means).
    page = auth.client.get(f"/imports/{iid}/options")
    assert page.status_code == 200
    assert "Prospects" in page.text
    assert 'class="import-warning hidden"' in page.text
    response = auth.post(
        f"/imports/{iid}/options",
        {
            **options_form(tags="salon-2024, vip", consent_status="opted_in"),
            "list_ids": [str(list_id)],
        },
    )
    assert response.status_code == 303
    page = auth.client.get(f"/imports/{iid}/options")
    assert OPTED_IN in page.text and 'class="import-warning"' in page.text
    assert 'value="salon-2024, vip"' in page.text

    # Preview: values as saved, the existing email updates, the bad email is shown and refused.
    page = auth.client.get(f"/imports/{iid}/preview")
    html = page.text
    assert page.status_code == 200
    assert OPTED_IN in html and 'class="import-warning"' in html
    assert "elodie@example.fr" in html and "Gérante" in html
    assert "Remarque (new field)" in html and "Rencontrée au salon" in html
    assert "about 3 rows" in html
    rows = re.findall(r'<tr class="action-(\w+)">', html)
    assert rows == ["create", "update", "fail"]
    assert "cell-error" in html and "pas-un-email" in html
    assert "Not a valid email address" in html
    assert "Back to mapping" in html

    response = auth.post(f"/imports/{iid}/start")
    assert response.status_code == 303
    job_url = response.headers["Location"]
    assert re.search(r"/jobs/\d+$", job_url)
    assert "Queued" in auth.client.get(job_url).text
    # Once started, the wizard's steps lead to the job.
    back = auth.client.get(f"/imports/{iid}/mapping")
    assert back.status_code == 303 and back.headers["Location"] == job_url

    run_jobs(app)
    page = auth.client.get(job_url)
    html = page.text
    assert 'data-count="created">1<' in html
    assert 'data-count="updated">1<' in html
    assert 'data-count="failed">1<' in html
    assert f"/imports/{iid}/errors.csv" in html
    assert "Undo import" in html

    errors = auth.client.get(f"/imports/{iid}/errors.csv")
    assert errors.status_code == 200
    assert errors.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(errors.data.decode("utf-8-sig"))))
    assert rows[0] == [
        "Prénom",
        "Nom",
        "Courriel",
        "Société",
        "Remarque",
        "Fonction",
        "Row",
        "Error",
    ]
    assert rows[1][:4] == ["Zoé", "Faux", "pas-un-email", "X"]
    assert rows[1][6] == "3"
    assert "email" in rows[1][7] and "Not a valid email address" in rows[1][7]
    assert len(rows) == 2

    with app.app_context():
        elodie = db.session.scalar(select(Contact).where(Contact.email == "elodie@example.fr"))
        assert (elodie.first_name, elodie.last_name, elodie.job_title) == (
            "Élodie",
            "Dupont",
            "Gérante",
        )
        assert elodie.consent_status == "opted_in"
        tags = set(
            db.session.scalars(
                select(Tag.name).join(ContactTag).where(ContactTag.contact_id == elodie.id)
            )
        )
        assert tags == {"salon-2024", "vip"}
        field = db.session.scalar(select(CustomField).where(CustomField.label == "Remarque"))
        assert field is not None and field.type == "text"
        value = db.session.scalar(
            select(CustomFieldValue.value_text).where(
                CustomFieldValue.contact_id == elodie.id, CustomFieldValue.field_id == field.id
            )
        )
        assert value == "Rencontrée au salon"
        members = set(
            db.session.scalars(
                select(ListMembership.contact_id).where(ListMembership.list_id == list_id)
            )
        )
        assert members == {elodie.id, jean_id}
        jean = db.session.get(Contact, jean_id)
        assert (jean.last_name, jean.job_title) == ("Martin", "Directeur")
        elodie_id = elodie.id

    # Past imports list it.
    page = auth.client.get("/imports/")
    assert "export.csv" in page.text and "1 created, 1 updated" in page.text

    response = auth.post(f"/imports/{iid}/undo")
    assert response.status_code == 303
    undo_url = response.headers["Location"]
    assert undo_url != job_url
    run_jobs(app)
    html = auth.client.get(undo_url).text
    assert 'data-count="deleted">1<' in html
    assert "edited after the import was kept" in html
    assert "undone" in auth.client.get(job_url).text
    assert "Undo import" not in auth.client.get(job_url).text

    with app.app_context():
        assert db.session.get(Contact, elodie_id) is None
        jean = db.session.get(Contact, jean_id)
        assert (jean.last_name, jean.job_title) == ("Martin-Ancien", "Stagiaire")
        assert jean.consent_status == "unknown"
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(ListMembership)
                .where(ListMembership.list_id == list_id)
            )
            == 0
        )
        assert (
            db.session.scalar(
                select(func.count()).select_from(ContactTag).where(ContactTag.contact_id == jean_id)
            )
            == 0
        )


def test_files_that_cannot_be_imported_are_refused_with_a_message(app, auth, users):
    auth.login("member")
    cases = [
        (b"", "empty.csv", "The file is empty."),
        (bytes(range(256)) * 20, "garbage.csv", "not a text file"),
        (b"PK\x03\x04" + b"\x00" * 200, "contacts.xlsx", "spreadsheet workbook"),
        (b"email\na@example.com\n", "contacts.pdf", "not .pdf"),
    ]
    for data, name, message in cases:
        response = upload(auth, data, name)
        assert response.status_code == 422, name
        assert message in response.text, name
        assert 'type="file"' in response.text
    response = auth.post("/imports/new", {})
    assert response.status_code == 422 and "Choose a file" in response.text
    assert count_imports(app) == 0


def test_a_file_over_the_upload_limit_gets_the_upload_page_with_the_limit(app, auth, users):
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    auth.login("member")
    data = b"email\n" + b"someone@example.com\n" * 120_000
    response = upload(auth, data)
    assert response.status_code == 413
    assert "larger than 2 MB" in response.text
    assert "KONTOR_MAX_UPLOAD_MB" in response.text
    assert 'type="file"' in response.text
    assert count_imports(app) == 0


def test_mapping_problems_are_shown_next_to_the_columns(app, auth, users):
    auth.login("member")
    iid = import_id(upload(auth, b"Name,Mail,Other\nAnn,ann@example.com,x\n"))
    response = auth.post(
        f"/imports/{iid}/mapping", {"col_0": "first_name", "col_1": "", "col_2": "first_name"}
    )
    assert response.status_code == 422
    assert "Map a column to Email" in response.text
    assert "First name is already used by column “Name”" in response.text
    assert 'aria-invalid="true" aria-describedby="col_2_error"' in response.text
    # Nothing was saved: the suggestion is still there.
    page = auth.client.get(f"/imports/{iid}/mapping").text
    assert selected(page, 1) == "email"


def test_option_problems_are_shown_per_field(app, auth, users):
    auth.login("member")
    iid = import_id(upload(auth, b"email\nann@example.com\n"))
    response = auth.post(f"/imports/{iid}/options", options_form(owner="99999", policy="merge"))
    assert response.status_code == 422
    assert "No such user." in response.text
    assert "Choose one of: update, skip, create." in response.text


def test_create_only_refuses_existing_emails_into_the_error_file(app, auth, users):
    with app.app_context():
        create_contact({"email": "old@example.com", "first_name": "Old"})
        db.session.commit()
    auth.login("member")
    iid = import_id(upload(auth, b"email,first name\nold@example.com,New\nnew@example.com,Neu\n"))
    assert auth.post(f"/imports/{iid}/options", options_form(policy="create")).status_code == 303
    preview = auth.client.get(f"/imports/{iid}/preview").text
    assert re.findall(r'<tr class="action-(\w+)">', preview) == ["fail", "create"]
    assert "A contact with this email exists already." in preview
    job_url = auth.post(f"/imports/{iid}/start").headers["Location"]
    run_jobs(app)
    html = auth.client.get(job_url).text
    assert 'data-count="created">1<' in html and 'data-count="failed">1<' in html
    rows = list(csv.reader(io.StringIO(auth.client.get(f"/imports/{iid}/errors.csv").text)))
    assert rows[1][:2] == ["old@example.com", "New"]
    assert "exists already" in rows[1][3]
    with app.app_context():
        old = db.session.scalar(select(Contact).where(Contact.email == "old@example.com"))
        assert old.first_name == "Old"


def test_rows_with_the_same_email_are_merged_later_row_wins(app, auth, users):
    auth.login("member")
    data = (
        b"email,first name,last name,job title\n"
        b"dup@example.com,First,Early,Engineer\n"
        b"DUP@example.com,Second,,\n"
    )
    iid = import_id(upload(auth, data))
    job_url = auth.post(f"/imports/{iid}/start").headers["Location"]
    run_jobs(app)
    assert 'data-count="failed">0<' in auth.client.get(job_url).text
    with app.app_context():
        found = db.session.scalars(
            select(Contact).where(func.lower(Contact.email) == "dup@example.com")
        ).all()
        assert len(found) == 1
        # The later row's values win; its empty cells leave the earlier values alone.
        assert (found[0].first_name, found[0].last_name, found[0].job_title) == (
            "Second",
            "Early",
            "Engineer",
        )


def test_who_may_do_what(app, auth, users, client):
    with app.app_context():
        other = User(email="other@example.com", name="Other", role="member")
        other.set_password(PASSWORD)
        db.session.add(other)
        db.session.commit()

    auth.login("viewer")
    assert client.get("/imports/new").status_code == 403
    assert upload(auth, b"email\na@example.com\n").status_code == 403
    assert client.get("/imports/").status_code == 200
    assert "Import contacts" not in client.get("/contacts/").text
    auth.logout()

    auth.login("member")
    assert "Import contacts" in client.get("/contacts/").text
    iid = import_id(upload(auth, b"email\na@example.com\n"))
    auth.logout()

    auth.login("other")
    for path in ("mapping", "options", "preview"):
        assert client.get(f"/imports/{iid}/{path}").status_code == 403
    assert auth.post(f"/imports/{iid}/start").status_code == 403
    assert "Continue" not in client.get("/imports/").text
    auth.logout()

    auth.login("admin")
    assert client.get(f"/imports/{iid}/mapping").status_code == 200
    job_url = auth.post(f"/imports/{iid}/start").headers["Location"]
    run_jobs(app)
    auth.logout()

    auth.login("viewer")
    page = client.get(job_url).text
    assert 'data-count="created">1<' in page
    assert "Undo import" not in page
    assert client.get(f"/imports/{iid}/errors.csv").status_code == 200
    assert auth.post(f"/imports/{iid}/undo").status_code == 403


def test_a_draft_can_be_cancelled(app, auth, users):
    auth.login("member")
    iid = import_id(upload(auth, b"email\na@example.com\n"))
    response = auth.post(f"/imports/{iid}/discard")
    assert response.status_code == 303
    assert count_imports(app) == 0
    assert auth.client.get(f"/imports/{iid}/mapping").status_code == 404
