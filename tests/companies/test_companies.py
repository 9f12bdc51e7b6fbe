"""Companies pages: list with search and counts, create, edit with version check, delete."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.companies.models import Company
from app.contacts.models import Contact
from app.contacts.service import create_contact
from app.extensions import db
from app.timeline.models import Activity
from tests.queries import counting_queries


def add_company(app, name: str, **fields) -> int:
    with app.app_context():
        company = Company(name=name, version=1, **fields)
        db.session.add(company)
        db.session.commit()
        return company.id


def add_contacts(app, company_id: int | None, n: int, prefix: str = "p") -> list[int]:
    with app.app_context():
        ids = [
            create_contact(
                {
                    "email": f"{prefix}{i}@example.com",
                    "first_name": f"Person{i}",
                    "company": company_id,
                }
            ).id
            for i in range(n)
        ]
        db.session.commit()
        return ids


def company_id_from(response) -> int:
    match = re.search(r"/companies/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def test_viewer_reads_companies_but_cannot_change_them(app, client, auth):
    cid = add_company(app, "Acme")
    auth.login("viewer")
    page = client.get("/companies/")
    assert page.status_code == 200
    assert b"Acme" in page.data
    assert b"New company" not in page.data
    assert auth.post("/companies/", {"name": "Nope"}).status_code == 403
    assert auth.post(f"/companies/{cid}/edit", {"name": "X", "version": "1"}).status_code == 403
    assert auth.post(f"/companies/{cid}/delete").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Company)) == 1


def test_member_creates_a_company_and_sees_its_page(app, client, auth):
    auth.login("member")
    response = auth.post(
        "/companies/",
        {"name": "Café Ørsted", "domain": "https://www.Orsted.example/about", "country": "DK"},
    )
    assert response.status_code == 303
    cid = company_id_from(response)
    page = client.get(f"/companies/{cid}")
    assert page.status_code == 200
    assert "Café Ørsted" in page.get_data(as_text=True)
    assert b"orsted.example" in page.data
    assert b"Company created." in page.data
    with app.app_context():
        company = db.session.get(Company, cid)
        assert company.domain == "orsted.example"
        assert company.owner_id is not None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "company"))
        assert entry.action == "create" and entry.entity_id == cid


@pytest.mark.parametrize(
    "form, field_message",
    [
        ({"name": ""}, b"A company needs a name."),
        ({"name": "Acme", "domain": "not a domain"}, b"Enter a domain name such as example.com."),
        ({"name": "Acme", "phone": "12"}, b"phone number"),
        ({"name": "Acme", "country": "Atlantis"}, b"two-letter ISO country code"),
    ],
)
def test_invalid_company_is_refused_and_nothing_saved(app, client, auth, form, field_message):
    auth.login("member")
    response = auth.post("/companies/", form)
    assert response.status_code == 422
    assert field_message in response.data
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Company)) == 0
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity_type == "company")
            )
            == 0
        )


def test_a_second_company_with_the_same_name_is_refused(app, client, auth):
    cid = add_company(app, "Acme")
    auth.login("member")
    response = auth.post("/companies/", {"name": "ACME"})
    assert response.status_code == 422
    assert b"A company with this name exists already." in response.data
    assert f"/companies/{cid}".encode() in response.data


def test_list_searches_pages_and_counts_contacts(app, client, auth):
    acme = add_company(app, "Acme Corp", domain="acme.example")
    add_company(app, "Globex", domain="globex.example")
    add_contacts(app, acme, 3)
    auth.login("viewer")
    page = client.get("/companies/").get_data(as_text=True)
    assert "2 companies" in page
    row = re.search(r"Acme Corp.*?</tr>", page, re.S).group(0)
    assert f"/contacts/?company={acme}" in row and ">3<" in row

    found = client.get("/companies/?q=acm").get_data(as_text=True)
    assert "Acme Corp" in found and "Globex" not in found
    by_domain = client.get("/companies/?q=globex.ex").get_data(as_text=True)
    assert "Globex" in by_domain and "Acme Corp" not in by_domain
    assert "No company matches" in client.get("/companies/?q=zzz").get_data(as_text=True)
    assert client.get("/companies/?q=%25_").status_code == 200

    fragment = client.get("/companies/?q=acm", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b"<html" not in fragment.data and b"Acme Corp" in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_list_pages_by_fifty_with_constant_queries(app, client, auth):
    with app.app_context():
        for i in range(60):
            db.session.add(Company(name=f"Company {i:02d}", version=1))
        db.session.commit()
        ids = list(db.session.scalars(select(Company.id).order_by(Company.id)))
    add_contacts(app, ids[0], 2, "a")
    add_contacts(app, ids[55], 1, "b")
    auth.login("viewer")
    first = client.get("/companies/").get_data(as_text=True)
    assert "Company 00" in first and "Company 49" in first and "Company 50" not in first
    assert "Page 1 of 2" in first
    second = client.get("/companies/?page=2").get_data(as_text=True)
    assert "Company 50" in second and "Company 59" in second and "Company 00" not in second
    assert client.get("/companies/?page=nonsense").status_code == 200

    with counting_queries(app) as statements:
        client.get("/companies/?page=2")
        on_page_two = len(statements)
        statements.clear()
        client.get("/companies/")
        on_page_one = len(statements)
    assert on_page_one == on_page_two


def test_company_page_shows_its_contacts_and_links_the_full_list(app, client, auth):
    cid = add_company(app, "Initech")
    add_contacts(app, cid, 2)
    add_contacts(app, None, 1, "other")
    auth.login("viewer")
    page = client.get(f"/companies/{cid}").get_data(as_text=True)
    assert "p0@example.com" in page and "p1@example.com" in page
    assert "other0@example.com" not in page
    assert f"/contacts/?company={cid}" in page
    assert client.get("/companies/999999").status_code == 404


def test_edit_saves_and_reindexes_contacts_on_rename(app, client, auth):
    cid = add_company(app, "Umbrella")
    (contact_id,) = add_contacts(app, cid, 1)
    auth.login("member")
    form = client.get(f"/companies/{cid}/edit")
    assert form.status_code == 200 and b'name="version" value="1"' in form.data
    response = auth.post(
        f"/companies/{cid}/edit",
        {"name": "Umbrella Ltd", "industry": "Pharma", "version": "1"},
    )
    assert response.status_code == 303
    with app.app_context():
        company = db.session.get(Company, cid)
        assert (company.name, company.industry, company.version) == ("Umbrella Ltd", "Pharma", 2)
        assert "ltd" in db.session.get(Contact, contact_id).search_text.split()
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_type == "company", AuditEntry.action == "update"
            )
        )
        assert entry.changes["name"] == ["Umbrella", "Umbrella Ltd"]


def test_inline_edit_with_htmx_answers_the_details_fragment(app, client, auth):
    cid = add_company(app, "Hooli")
    auth.login("member")
    fragment = client.get(f"/companies/{cid}/edit", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and b'id="company-details"' in fragment.data
    bad = auth.post(f"/companies/{cid}/edit", {"name": "", "version": "1"}, htmx=True)
    assert bad.status_code == 200 and b"A company needs a name." in bad.data
    good = auth.post(f"/companies/{cid}/edit", {"name": "Hooli XYZ", "version": "1"}, htmx=True)
    assert good.status_code == 200
    assert (
        b"<html" not in good.data and b"Hooli XYZ" in good.data and b"Company saved." in good.data
    )


def test_stale_save_is_refused_showing_both_values(app, client, auth):
    cid = add_company(app, "Stark", city="Paris")
    auth.login("member")
    first = auth.post(f"/companies/{cid}/edit", {"name": "Stark", "city": "Lyon", "version": "1"})
    assert first.status_code == 303
    stale = auth.post(f"/companies/{cid}/edit", {"name": "Stark", "city": "Nantes", "version": "1"})
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "Someone else saved this company" in text
    assert "Nantes" in text and "Lyon" in text
    assert 'name="version" value="2"' in text
    with app.app_context():
        assert db.session.get(Company, cid).city == "Lyon"
    again = auth.post(f"/companies/{cid}/edit", {"name": "Stark", "city": "Nantes", "version": "2"})
    assert again.status_code == 303
    with app.app_context():
        assert db.session.get(Company, cid).city == "Nantes"


def test_delete_keeps_contacts_without_a_company(app, client, auth):
    cid = add_company(app, "Wayne")
    ids = add_contacts(app, cid, 2)
    auth.login("member")
    confirm = client.get(f"/companies/{cid}/delete")
    assert confirm.status_code == 200 and b"2 contacts are kept" in confirm.data
    response = auth.post(f"/companies/{cid}/delete")
    assert response.status_code == 303
    assert client.get("/companies/").status_code == 200
    with app.app_context():
        assert db.session.get(Company, cid) is None
        for contact_id in ids:
            contact = db.session.get(Contact, contact_id)
            assert contact.company_id is None
            assert "wayne" not in contact.search_text
        changes = db.session.scalars(
            select(Activity).where(Activity.kind == "field_change", Activity.contact_id.in_(ids))
        ).all()
        assert len(changes) == 2
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_type == "company", AuditEntry.action == "delete"
            )
        )
        assert entry.changes == {"name": "Wayne", "contacts_detached": 2}


def test_htmx_delete_redirects_to_the_list(app, client, auth):
    cid = add_company(app, "Tyrell")
    auth.login("admin")
    response = auth.post(f"/companies/{cid}/delete", htmx=True)
    assert response.headers["HX-Redirect"] == "/companies/"


def test_html_in_a_company_shows_as_text(app, client, auth):
    cid = add_company(app, "<script>alert(1)</script>", description="<b>bold</b>")
    auth.login("viewer")
    for path in ("/companies/", f"/companies/{cid}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;" in page
