"""Exports from the pages: each format's content, formula neutralisation, which contacts
(all, filter, selection, list), audit entries and permissions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import vobject
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.contacts.fields import EDITABLE
from app.extensions import db
from tests.exports.conftest import FORMULA_NAME, csv_rows, export

TODAY = datetime.now(UTC).date().isoformat()


def _audits(app) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")))


def test_csv_of_all_contacts(app, auth, users, people):
    auth.login("viewer")  # exporting is reading: viewers may export
    response = export(auth, "csv", "all")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="contacts-{TODAY}.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = csv_rows(response.data)
    header = list(rows[0])
    assert header[0] == "email"
    assert header[: len(EDITABLE)] == [f.name for f in EDITABLE]
    assert header[len(EDITABLE) :] == [
        "tags", "lists", "custom.nickname", "custom.size", "custom.since", "custom.vip",
        "custom.plan", "custom.interests", "custom.meta", "created_at", "updated_at",
    ]  # fmt: skip
    by_email = {r["email"]: r for r in rows}
    assert set(by_email) == {
        "ana@example.com",
        "bob@example.com",
        "dora@example.com",
    }  # archived left out
    ana = by_email["ana@example.com"]
    assert ana["first_name"] == "Ana"
    assert ana["middle_name"] == "María"
    assert ana["last_name"] == "López; García"
    assert ana["company"] == "Acme, SA"
    assert ana["department"] == "Sales"
    assert ana["owner"] == "member@example.com"
    assert ana["reports_to"] == "bob@example.com"
    assert ana["secondary_emails"] == "ana.lopez@example.org"
    assert ana["mobile_phone"] == "'+33612345678"  # neutralised; the importer drops the quote
    assert ana["role"] == "decision_maker"
    assert ana["lead_score"] == "80"
    assert ana["birthday"] == "1985-04-12"
    assert ana["country"] == "FR"
    assert ana["comm_topics"] == "news, events"
    assert ana["tags"] == "Paris, vip"
    assert ana["lists"] == "Newsletter"
    assert ana["custom.nickname"] == "Ani\nsecond line"
    assert ana["custom.size"] == "12.5"
    assert ana["custom.since"] == "2020-01-31"
    assert ana["custom.vip"] == "true"
    assert ana["custom.plan"] == "Pro"
    assert ana["custom.interests"] == "Golf, Wine"
    assert json.loads(ana["custom.meta"]) == {"a": [1, 2], "b": "é"}
    assert ana["custom.meta"] == '{"a":[1,2],"b":"é"}'
    assert ana["created_at"].startswith(TODAY)
    assert by_email["dora@example.com"]["custom.vip"] == ""
    # Rows end with CRLF (RFC 4180); the embedded newline stays inside its quoted cell.
    assert response.data.count(b"\r\n") == 4

    [entry] = _audits(app)
    assert entry.entity_type == "contact"
    assert entry.changes == {"format": "csv", "scope": "all", "count": 3}
    assert entry.user_id == users["viewer"].id
    assert entry.via == "web"


def test_csv_neutralises_formulas_and_keeps_html_as_text(auth, people):
    auth.login("member")
    rows = csv_rows(export(auth, "csv", "all").data)
    bob = next(r for r in rows if r["email"] == "bob@example.com")
    assert bob["first_name"] == "'" + FORMULA_NAME
    assert bob["phone"] == "'+33142685300"
    assert bob["custom.size"] == "'-1"
    assert bob["custom.nickname"] == "'@SUM(A1:A9)"
    assert bob["job_title"] == "'\tx"
    assert bob["department"] == "'\r=1+1"
    assert bob["last_name"] == "<b>Bold</b>"  # a file, not a page: no HTML escaping
    # Nothing anywhere starts with a formula character unquoted.
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_vcard_parses_back(auth, people):
    auth.login("member")
    response = export(auth, "vcard", "all")
    assert response.status_code == 200
    assert response.mimetype == "text/vcard"
    assert response.headers["Content-Disposition"].endswith(f'contacts-{TODAY}.vcf"')
    body = response.data
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF line ends only
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))  # folded at 75 octets
    cards = list(vobject.readComponents(body.decode("utf-8")))
    assert len(cards) == 3
    ana = next(c for c in cards if c.email.value == "ana@example.com")
    assert ana.version.value == "4.0"
    assert ana.fn.value == "Ana María López; García"
    assert ana.n.value.family == "López; García"
    assert ana.n.value.given == "Ana"
    emails = {e.value: e.params for e in ana.contents["email"]}
    assert emails["ana@example.com"] == {"PREF": ["1"]}
    assert "ana.lopez@example.org" in emails
    tels = {t.value: t.params.get("TYPE") for t in ana.contents["tel"]}
    assert tels == {"+33142685301": ["work", "voice"], "+33612345678": ["cell"]}
    assert ana.org.value == ["Acme, SA", "Sales"]
    assert ana.title.value == "Head of sales"
    work, mailing = ana.contents["adr"]
    assert work.params["TYPE"] == ["work"]
    assert (work.value.street, work.value.city, work.value.code, work.value.country) == (
        "12 rue de la Paix", "Paris", "75002", "FR",
    )  # fmt: skip
    assert (mailing.value.street, mailing.value.city) == ("BP 42", "Lyon")
    assert ana.bday.value == "19850412"
    assert ana.url.value == "https://www.linkedin.com/in/ana"
    assert ana.categories.value == ["Paris", "vip"]
    assert ana.contents["x-kontor-custom-nickname"][0].value == "Ani\nsecond line"
    assert ana.contents["x-kontor-custom-interests"][0].value == "Golf, Wine"
    assert ana.contents["x-kontor-reports-to"][0].value == "bob@example.com"
    assert ana.contents["x-kontor-lists"][0].value == "Newsletter"
    bob = next(c for c in cards if c.email.value == "bob@example.com")
    assert bob.n.value.given == FORMULA_NAME  # no spreadsheet here: values as they are
    assert bob.contents["x-kontor-custom-size"][0].value == "-1"
    assert bob.contents["x-kontor-lead-score"][0].value == "0"


def test_json_is_the_api_form(client, auth, api, people):
    auth.login("member")
    response = export(auth, "json", "all")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].endswith(f'contacts-{TODAY}.json"')
    data = json.loads(response.data)
    assert [d["email"] for d in data] == ["bob@example.com", "ana@example.com", "dora@example.com"]
    for item in data:
        assert item == api("member").get(f"/api/v1/contacts/{item['id']}").get_json()
    ana = data[1]
    assert ana["custom_fields"]["interests"] == ["Golf", "Wine"]
    assert ana["company"] == "Acme, SA"
    assert data[0]["last_name"] == "<b>Bold</b>"


def test_filter_selection_and_list(app, auth, people):
    auth.login("member")
    vip = csv_rows(export(auth, "csv", "filter", query="tag=vip&status=active").data)
    assert sorted(r["email"] for r in vip) == ["ana@example.com", "bob@example.com"]
    paris = csv_rows(export(auth, "csv", "filter", query="q=Ana&tag=Paris").data)
    assert [r["email"] for r in paris] == ["ana@example.com"]
    archived = csv_rows(export(auth, "csv", "filter", query="archived=only").data)
    assert [r["email"] for r in archived] == ["carl@example.com"]

    picked = export(auth, "json", "selection", ids=[people["dora"], people["carl"]])
    assert [d["email"] for d in json.loads(picked.data)] == ["carl@example.com", "dora@example.com"]

    members = auth.post(f"/exports/lists/{people['list']}", data={"format": "csv"})
    assert members.status_code == 200
    assert members.headers["Content-Disposition"].endswith(f'contacts-newsletter-{TODAY}.csv"')
    assert sorted(r["email"] for r in csv_rows(members.data)) == [
        "ana@example.com",
        "carl@example.com",  # list members, archived or not
    ]
    changes = [e.changes for e in _audits(app)]
    assert {"format": "csv", "scope": "filter", "count": 2} in changes
    assert {"format": "json", "scope": "selection", "count": 2} in changes
    assert {"format": "csv", "scope": "list", "count": 2, "list_id": people["list"]} in changes


def test_bad_requests_say_why(auth, people):
    auth.login("member")
    nothing = export(auth, "csv", "selection")
    assert nothing.status_code == 422
    assert b"Select at least one contact first." in nothing.data
    unknown = export(auth, "xlsx", "all")
    assert unknown.status_code == 422
    assert b"Choose a format." in unknown.data
    assert auth.post("/exports/lists/999999", data={"format": "csv"}).status_code == 404


def test_export_menu_and_pages(auth, people):
    auth.login("viewer")
    page = auth.client.get("/contacts/?tag=vip").data.decode()
    assert 'id="export-form"' in page
    assert 'value="filter" checked' in page
    assert 'value="selection"' not in page  # viewers tick no rows
    auth.logout()
    auth.login("member")
    page = auth.client.get("/contacts/").data.decode()
    assert 'value="selection"' in page and 'value="all" checked' in page

    export_page = auth.client.get("/exports/?query=tag%3Dvip").data.decode()
    assert "2 contacts" in export_page and "3 contacts" in export_page
    list_page = auth.client.get(f"/lists/{people['list']}").data.decode()
    assert f"/exports/?list={people['list']}" in list_page
    members_page = auth.client.get(f"/exports/?list={people['list']}").data.decode()
    assert "2 members, archived contacts included." in members_page
    assert f'action="/exports/lists/{people["list"]}"' in members_page


def test_anonymous_cannot_export(client, auth, people):
    assert client.get("/exports/").status_code == 302
    response = client.post("/exports/contacts", data={"format": "csv", "scope": "all"})
    assert response.status_code in (302, 400)  # CSRF refuses first, else login
    token = auth.csrf()
    response = client.post(
        "/exports/contacts", data={"format": "csv", "scope": "all", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/exports/1/download").status_code == 302
