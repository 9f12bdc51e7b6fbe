"""Prevention: the create-time check, its hint in the create form and in the import
preview, and match keys that follow every change of a contact."""

from __future__ import annotations

import re

from app.dedupe.check import find_similar
from app.extensions import db
from tests.imports.test_wizard import import_id, mapping_form, options_form, upload

ROBERT = {
    "email": "robert.smith@acme.com",
    "first_name": "Robert",
    "last_name": "Smith",
    "company": "Acme Inc",
    "mobile_phone": "+33612345678",
}


def similar(app, **values):
    with app.app_context():
        return find_similar(db.session, values)


def test_find_similar_scores_the_few_contacts_sharing_a_key(app, make_contact):
    robert = make_contact(**ROBERT)
    make_contact(email="tom.kent@acme.com", first_name="Tom", last_name="Kent", company="Acme")
    make_contact(email="robert.smith@yahoo.com", first_name="Robert", last_name="Smith")
    # a nickname with his phone typed in another format
    found = similar(app, email="bob@gmail.com", first_name="Bob", last_name="Smith",
                    phone="+33 6 12 34 56 78")  # fmt: skip
    assert [m.contact_id for m in found] == [robert]
    assert {"nickname", "same_phone"} <= {r["code"] for r in found[0].reasons}
    # a typo at his company; his own record is left out when editing it
    assert [m.contact_id for m in similar(app, first_name="Robert", last_name="Smtih",
                                          company="ACME")] == [robert]  # fmt: skip
    with app.app_context():
        assert find_similar(db.session, {**ROBERT, "id": robert}) == []
        assert find_similar(db.session, {**ROBERT}, exclude_ids=[robert]) == []
    # a namesake with nothing else in common is not a duplicate
    assert similar(app, email="r.smith@hotmail.com", first_name="Robert", last_name="Smith") == []


def test_keys_follow_changes_made_through_the_api(app, api, make_contact):
    robert = make_contact(**ROBERT)
    member = api("member")
    assert similar(app, first_name="Robert", last_name="Smith", phone="+33612345678")
    response = member.patch(f"/api/v1/contacts/{robert}", json={"mobile_phone": "+33698765432"})
    assert response.status_code == 200, response.json
    assert similar(app, first_name="Robert", last_name="Smith", phone="+33612345678") == []
    assert similar(app, first_name="Bob", last_name="Smith", phone="+33698765432")
    assert member.delete(f"/api/v1/contacts/{robert}").status_code in (200, 204)
    assert similar(app, first_name="Bob", last_name="Smith", phone="+33698765432") == []


def test_imported_contacts_are_found_by_the_check(app, runner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "Email,First Name,Last Name,Company,Mobile\n"
        "anna.berg@nordic.se,Anna,Berg,Nordic AB,+46701234567\n"
        "tom.kent@other.org,Tom,Kent,Other,+46709999999\n"
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    found = similar(app, email="anna@gmail.com", first_name="Ana", last_name="Berg",
                    phone="+46 70 123 45 67")  # fmt: skip
    assert len(found) == 1 and found[0].score >= 80


def test_the_create_form_hints_at_a_possible_duplicate(app, auth, make_contact):
    robert = make_contact(**ROBERT)
    auth.login("member")
    page = auth.client.get("/contacts/new")
    assert 'hx-get="/duplicates/check"' in page.text
    assert 'id="possible-duplicates"' in page.text

    # what htmx asks while the user types: a nickname and his phone
    hint = auth.client.get(
        "/duplicates/check",
        query_string={"first_name": "Bob", "last_name": "Smith", "mobile_phone": "06 12 34 56 78",
                      "email": "bob@gmail.com", "phone": "+33612345678"},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert hint.status_code == 200
    assert "Possible duplicate of" in hint.text
    assert f'href="/contacts/{robert}"' in hint.text and "Robert Smith" in hint.text
    assert "same phone" in hint.text
    # someone else: nothing to say
    other = auth.client.get(
        "/duplicates/check", query_string={"first_name": "Zoé", "last_name": "Ng"}
    )
    assert other.status_code == 200 and "Possible duplicate" not in other.text

    # the hint does not block: the contact is created, and the next page says it again
    response = auth.post(
        "/contacts/new",
        {"email": "bob@gmail.com", "first_name": "Bob", "last_name": "Smith",
         "mobile_phone": "+33612345678", "status": "active"},
    )  # fmt: skip
    assert response.status_code in (302, 303)
    page = auth.client.get(response.headers["Location"])
    assert "It may be a duplicate of Robert Smith (robert.smith@acme.com)." in page.text


def test_the_create_form_hint_works_without_javascript(app, auth, make_contact):
    robert = make_contact(**ROBERT)
    auth.login("member")
    # a mistake elsewhere sends the form back: the hint is in the page itself
    response = auth.post(
        "/contacts/new",
        {"email": "rob@acme.com", "first_name": "Rob", "last_name": "Smith",
         "company": "ACME", "lead_score": "not a number", "status": "active"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Possible duplicate of" in response.text
    assert f'href="/contacts/{robert}"' in response.text


def test_an_existing_email_points_to_that_contact(app, auth, make_contact):
    robert = make_contact(**ROBERT)
    auth.login("member")
    response = auth.post(
        "/contacts/new",
        {"email": "Robert.Smith@ACME.com", "first_name": "Rob", "status": "active"},
    )
    assert response.status_code == 422
    html = response.text
    assert "A contact with this email already exists." in html
    assert re.search(rf'<a href="/contacts/{robert}">Robert Smith</a>', html)
    assert "update that contact instead" in html


def test_the_import_preview_marks_possible_duplicates(app, auth, make_contact):
    robert = make_contact(**ROBERT)
    auth.login("member")
    data = (
        b"Email,First Name,Last Name,Company,Mobile\n"
        b"bob@gmail.com,Bob,Smith,ACME,+33612345678\n"
        b"anna.berg@nordic.se,Anna,Berg,Nordic AB,+46701234567\n"
        b"robert.smith@acme.com,Robert,Smith,Acme Inc,+33612345678\n"
    )
    response = upload(auth, data)
    iid = import_id(response)
    page = auth.client.get(f"/imports/{iid}/mapping")
    assert auth.post(f"/imports/{iid}/mapping", mapping_form(page.text, 5)).status_code == 303
    assert auth.post(f"/imports/{iid}/options", options_form()).status_code == 303
    html = auth.client.get(f"/imports/{iid}/preview").text
    rows = re.findall(r'<tr class="action-(\w+)">(.*?)</tr>', html, re.S)
    assert [action for action, _ in rows] == ["create", "create", "update"]
    assert "possible duplicate of" in rows[0][1]
    assert f'href="/contacts/{robert}"' in rows[0][1] and "Robert Smith" in rows[0][1]
    assert "possible duplicate" not in rows[1][1]  # Anna is new
    assert "possible duplicate" not in rows[2][1]  # the same email updates Robert


def test_names_in_the_hint_are_escaped(app, auth, make_contact):
    """Names in the hint come from the database: escaped like everything else."""
    make_contact(email="x@acme.com", first_name="<b>Eve</b>", last_name="Smith",
                 mobile_phone="+33611111111")  # fmt: skip
    auth.login("member")
    hint = auth.client.get(
        "/duplicates/check",
        query_string={"first_name": "<b>Eve</b>", "last_name": "Smith", "phone": "+33611111111"},
    )
    assert "&lt;b&gt;Eve&lt;/b&gt; Smith" in hint.text and "<b>Eve</b>" not in hint.text


def test_a_big_import_is_indexed_by_a_background_job(app, runner, tmp_path):
    """Big batches of new contacts are indexed after the import, by a dedupe_keys job."""
    from sqlalchemy import select

    from app.jobs import runner as jobs
    from app.jobs.models import Job

    app.config["DEDUPE_KEYS_DEFER_MIN"] = 2  # (1000 by default: an import batch is 5000)
    path = tmp_path / "people.csv"
    path.write_text(
        "Email,First Name,Last Name,Company,Mobile\n"
        "anna.berg@nordic.se,Anna,Berg,Nordic AB,+46701234567\n"
        "tom.kent@other.org,Tom,Kent,Other,+46709999999\n"
        "eva.lund@nordic.se,Eva,Lund,Nordic AB,+46701111111\n"
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    anna = {"email": "anna@gmail.com", "first_name": "Ana", "last_name": "Berg",
            "phone": "+46 70 123 45 67"}  # fmt: skip
    assert similar(app, **anna) == []  # not indexed yet: the job is queued
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "dedupe_keys"))
        assert job.status == "queued"
        jobs.run_pending()
        db.session.expire_all()
        assert db.session.get(Job, job.id).result == {"contacts_indexed": 3}
    assert len(similar(app, **anna)) == 1


def test_renaming_a_company_updates_its_peoples_keys(app, api, make_contact):
    # (a free-mail address: the company is known by its name only)
    robert = make_contact(**{**ROBERT, "email": "robert.smith@gmail.com"})
    with app.app_context():
        from app.contacts.models import Contact

        company_id = db.session.get(Contact, robert).company_id
    typo = {"first_name": "Robert", "last_name": "Smtih"}
    assert similar(app, **typo, company="Acme") and not similar(app, **typo, company="Globex")
    response = api("member").patch(f"/api/v1/companies/{company_id}", json={"name": "Globex"})
    assert response.status_code == 200, response.json
    assert similar(app, **typo, company="Globex") and not similar(app, **typo, company="Acme")
