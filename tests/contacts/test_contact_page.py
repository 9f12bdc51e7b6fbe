"""The contact page: fields by group, inline edit per group (saved, refused at the
field, or refused on a conflict with both values shown), the timeline, archive and
delete; and the create form."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.contacts.models import Contact
from app.extensions import db
from tests.contacts.conftest import htmx


def _group_form(client, contact_id: int, group: str) -> str:
    response = htmx(client, f"/contacts/{contact_id}/groups/{group}/edit")
    assert response.status_code == 200
    return response.data.decode()


def _version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def _contact(app, contact_id: int) -> Contact:
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        db.session.expunge(contact)
        return contact


def test_contact_page_shows_every_group(client, auth, make_contact, custom_field):
    custom_field("size", "number", "Team size")
    boss = make_contact(email="boss@acme.com", first_name="Big", last_name="Boss")
    cid = make_contact(
        email="ann@acme.com", first_name="Ann", last_name="Lee", company="Acme",
        job_title="Buyer", city="Lyon", country="FR", linkedin_url="linkedin.com/in/ann",
        consent_status="opted_in", comm_channel="email", tags=["vip"], reports_to="boss@acme.com",
        custom_fields={"size": 12},
    )  # fmt: skip
    auth.login("member")
    html = client.get(f"/contacts/{cid}").data.decode()
    for title in ("Basic", "Company", "Addresses", "Social", "Consent", "Preferences",
                  "Custom fields", "System", "Timeline"):  # fmt: skip
        assert f">{title}</h2>" in html, title
    assert "Acme" in html and "Buyer" in html and "Lyon" in html and "France" in html
    assert "Opted In" in html and "https://linkedin.com/in/ann" in html
    assert '<span class="badge tag">vip</span>' in html
    assert "Team size" in html and ">12<" in html
    assert f'href="/contacts/{boss}">Big Boss</a>' in html
    assert html.count(">Edit</a>") == 7  # every group but System
    assert "Archive</button>" in html and "Delete</a>" in html


def test_inline_edit_saves_and_refreshes_the_timeline(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann", phone="+33612345678")
    auth.login("member")
    form = _group_form(client, cid, "basic")
    assert 'name="first_name" value="Ann"' in form
    assert 'name="phone" value="+33612345678"' in form
    response = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": _version(form), "email": "ann@acme.com", "first_name": "Annie",
              "last_name": "Lee", "mobile_phone": "+33 6 12 34 56 79", "status": "active",
              "lead_score": "40", "tags": "vip, lyon", "phone": "+33612345678"},
        htmx=True,
    )  # fmt: skip
    assert response.status_code == 200
    body = response.data.decode()
    assert 'id="group-basic"' in body and "<form" not in body.split('id="contact-header"')[0]
    assert "Annie" in body and "+33612345679" in body
    assert "contact-changed" in response.headers["HX-Trigger"]
    assert 'id="contact-header" class="contact-header" hx-swap-oob="true"' in body
    contact = _contact(app, cid)
    assert (contact.first_name, contact.last_name, contact.lead_score) == ("Annie", "Lee", 40)
    assert contact.mobile_phone == "+33612345679" and contact.version == 2
    timeline = htmx(client, f"/contacts/{cid}/timeline").data.decode()
    assert "First name" in timeline and "Ann" in timeline and "Annie" in timeline
    assert "Member" in timeline
    # After a reload, the page shows the saved values.
    page = client.get(f"/contacts/{cid}").data.decode()
    assert "<h1>Annie Lee</h1>" in page and "lyon" in page


def test_inline_edit_of_company_owner_references_and_custom_fields(
    app, client, auth, users, make_contact, custom_field
):
    custom_field("plan", "multiselect", "Plan", options=["a", "b", "c"])
    custom_field("renewal", "date", "Renewal")
    boss = make_contact(email="boss@acme.com")
    cid = make_contact(email="ann@acme.com", custom_fields={"plan": ["a"]})
    auth.login("member")
    form = _group_form(client, cid, "company")
    response = auth.post(
        f"/contacts/{cid}/groups/company",
        data={"version": _version(form), "company": "New Co", "job_title": "CTO",
              "department": "", "role": "champion", "reports_to": "BOSS@acme.com",
              "referred_by": ""},
        htmx=True,
    )  # fmt: skip
    assert response.status_code == 200, response.data
    assert "New Co" in response.data.decode()
    form = _group_form(client, cid, "basic")
    assert auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": _version(form), "email": "ann@acme.com", "owner": str(users["admin"].id),
              "status": "active"},
        htmx=True,
    ).status_code == 200  # fmt: skip
    form = _group_form(client, cid, "custom")
    assert 'value="a" checked' in form
    response = auth.post(
        f"/contacts/{cid}/groups/custom",
        data={"version": _version(form), "custom.plan": ["", "b", "c"], "custom.renewal": "2025-02-03"},
        htmx=True,
    )  # fmt: skip
    assert response.status_code == 200
    with app.app_context():
        from app.contacts.service import custom_values

        contact = db.session.get(Contact, cid)
        assert contact.reports_to_id == boss and contact.role == "champion"
        assert contact.owner_id == users["admin"].id
        assert contact.company_id is not None
        values = custom_values(cid)
        assert sorted(values["plan"]) == ["b", "c"] and str(values["renewal"][0]) == "2025-02-03"


def test_invalid_values_are_refused_at_the_field_and_nothing_is_saved(
    app, client, auth, make_contact
):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    form = _group_form(client, cid, "basic")
    response = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": _version(form), "email": "not-an-email", "first_name": "Changed",
              "phone": "12", "lead_score": "abc", "birthday": "31/02/2020", "status": "active"},
        htmx=True,
    )  # fmt: skip
    assert response.status_code == 200  # htmx swaps the form back in, errors at the fields
    html = response.data.decode()
    assert "Nothing was saved" in html
    for field in ("email", "phone", "lead_score", "birthday"):
        assert re.search(rf'data-field="{field}">.*?class="field-error"', html, re.S), field
    assert 'value="Changed"' in html  # what was typed stays in the form
    form = _group_form(client, cid, "addresses")
    response = auth.post(
        f"/contacts/{cid}/groups/addresses",
        data={"version": _version(form), "country": "Atlantis"},
        htmx=True,
    )
    assert "two-letter ISO country code" in response.data.decode()
    contact = _contact(app, cid)
    assert contact.first_name == "Ann" and contact.email == "ann@acme.com" and contact.version == 1
    # Without htmx the whole page comes back with the errors (422).
    full = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": "1", "email": "bad", "status": "active"},
    )
    assert full.status_code == 422 and b"<html" in full.data and b"field-error" in full.data


def test_a_conflicting_save_is_refused_showing_both_values(app, client, auth, users, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann", last_name="Lee")
    auth.login("member")
    mine = _group_form(client, cid, "basic")
    # Someone else saves first.
    with app.app_context():
        from app.auth.models import User
        from app.contacts.service import update_contact

        contact = db.session.get(Contact, cid)
        update_contact(
            contact, {"first_name": "Anna"}, actor=db.session.get(User, users["admin"].id)
        )
        db.session.commit()
    response = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": _version(mine), "email": "ann@acme.com", "first_name": "Annette",
              "last_name": "Lee", "status": "active"},
        htmx=True,
    )  # fmt: skip
    html = response.data.decode()
    assert "Someone else saved this contact" in html
    assert re.search(r'class="theirs">Saved by someone else: <strong>Anna</strong>', html)
    assert re.search(r'class="yours">Yours: <strong>Annette</strong>', html)
    assert 'value="Annette"' in html  # yours stays in the form
    assert _contact(app, cid).first_name == "Anna"
    # Saving again, now knowing, keeps yours.
    again = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": _version(html), "email": "ann@acme.com", "first_name": "Annette",
              "last_name": "Lee", "status": "active"},
        htmx=True,
    )  # fmt: skip
    assert "Someone else" not in again.data.decode()
    assert _contact(app, cid).first_name == "Annette"


def test_changing_the_email_to_an_existing_one_links_to_it(app, client, auth, make_contact):
    other = make_contact(email="taken@acme.com")
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    form = _group_form(client, cid, "basic")
    html = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": _version(form), "email": "Taken@acme.com", "status": "active"},
        htmx=True,
    ).data.decode()
    assert "Another contact has this email." in html
    assert f'href="/contacts/{other}">Open the contact with taken@acme.com' in html
    assert _contact(app, cid).email == "ann@acme.com"


def test_create_form(app, client, auth, make_contact):
    existing = make_contact(email="ann@acme.com")
    auth.login("member")
    page = client.get("/contacts/new").data.decode()
    for name in ("email", "first_name", "last_name", "company", "tags", "owner", "status"):
        assert f'name="{name}"' in page, name
    duplicate = auth.post("/contacts/new", data={"email": "ANN@acme.com", "first_name": "A"})
    assert duplicate.status_code == 422
    html = duplicate.data.decode()
    assert "A contact with this email already exists." in html
    assert f'href="/contacts/{existing}">Open the contact with ann@acme.com' in html
    invalid = auth.post("/contacts/new", data={"email": "nope", "mobile_phone": "xx"}).data.decode()
    assert invalid.count('class="field-error"') == 2 and 'value="nope"' in invalid
    created = auth.post(
        "/contacts/new",
        data={"email": "bob@acme.com", "first_name": "Bob", "company": "Acme", "tags": "a, b",
              "status": "active", "owner": ""},
    )  # fmt: skip
    assert created.status_code == 303
    page = client.get(created.headers["Location"]).data.decode()
    assert "<h1>Bob</h1>" in page and "Contact created." in page and "Acme" in page
    with app.app_context():
        bob = db.session.scalar(select(Contact).where(Contact.email == "bob@acme.com"))
        assert bob.owner_id is not None  # the creator owns it when no owner is chosen
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 2


def test_create_beyond_the_contact_limit_says_how_many_fit(app, client, auth, make_contact):
    make_contact(email="one@acme.com")
    app.config["CONTACT_LIMIT"] = 1
    auth.login("member")
    response = auth.post("/contacts/new", data={"email": "two@acme.com"})
    assert response.status_code == 422
    assert "limited to 1 contacts and is full" in response.data.decode()
    app.config["CONTACT_LIMIT"] = 3
    assert auth.post("/contacts/new", data={"email": "two@acme.com"}).status_code == 303


def test_archive_restore_and_delete_one_contact(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    assert auth.post(f"/contacts/{cid}/archive").status_code == 303
    page = client.get(f"/contacts/{cid}").data.decode()
    assert "Contact archived" in page and "Restore</button>" in page
    assert "Archived" in htmx(client, f"/contacts/{cid}/timeline").data.decode()
    assert auth.post(f"/contacts/{cid}/restore").status_code == 303
    assert "Archive</button>" in client.get(f"/contacts/{cid}").data.decode()
    confirm = client.get(f"/contacts/{cid}/delete").data.decode()
    assert "Delete Ann?" in confirm and "cannot be undone" in confirm
    assert _contact(app, cid) is not None
    deleted = auth.post(f"/contacts/{cid}/delete")
    assert deleted.status_code == 303
    assert client.get(f"/contacts/{cid}").status_code == 404


def test_viewer_reads_but_gets_no_edit_controls_and_403_on_writes(client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("viewer")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert "Ann" in page
    assert ">Edit</a>" not in page and "Archive</button>" not in page and "Delete" not in page
    assert htmx(client, f"/contacts/{cid}/groups/basic").status_code == 200
    assert htmx(client, f"/contacts/{cid}/groups/basic/edit").status_code == 403
    assert client.get("/contacts/new").status_code == 403
    for path, data in (
        (f"/contacts/{cid}/groups/basic", {"version": "1", "email": "x@acme.com"}),
        ("/contacts/new", {"email": "x@acme.com"}),
        (f"/contacts/{cid}/archive", {}),
        (f"/contacts/{cid}/restore", {}),
        (f"/contacts/{cid}/delete", {}),
    ):
        assert auth.post(path, data=data).status_code == 403, path
    assert client.get(f"/contacts/{cid}").status_code == 200


def test_full_page_fallbacks_for_fragments(client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    edit = client.get(f"/contacts/{cid}/groups/basic/edit")
    assert edit.status_code == 303 and edit.headers["Location"].endswith(
        f"/contacts/{cid}?edit=basic"
    )
    page = client.get(f"/contacts/{cid}?edit=basic").data.decode()
    assert 'name="version"' in page and "<html" in page
    saved = auth.post(
        f"/contacts/{cid}/groups/basic",
        data={"version": "1", "email": "ann@acme.com", "first_name": "Anne", "status": "active"},
    )
    assert saved.status_code == 303
    assert "Saved." in client.get(f"/contacts/{cid}").data.decode()
    assert client.get("/contacts/999999").status_code == 404
    assert htmx(client, f"/contacts/{cid}/groups/nonsense").status_code == 404
