"""Deal pages: create, edit and delete through the forms, errors shown in the form with
nothing saved, conflicts, the pickers, the deals list and the Deals sections of contact
and company pages."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from tests.pipeline.conftest import board, columns, deal_row, text


def _deal_count(app) -> int:
    from app.pipeline.models import Deal

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Deal))


def test_create_a_deal_from_the_form(app, client, auth, users, make_contact, stage_ids):
    make_contact(email="zoe@acme.com", first_name="Zoë", company="Acme")
    auth.login("member")
    page = text(client.get(f"/pipeline/deals/new?stage={stage_ids['Qualified']}"))
    assert f'<option value="{stage_ids["Qualified"]}" selected>' in page
    assert f'<option value="{users["member"].id}" selected>' in page  # owner: me
    response = auth.post(
        "/pipeline/deals/new",
        {
            "title": "  Acme renewal ", "value": "12 500,50", "currency": "usd",
            "stage": str(stage_ids["Qualified"]), "contact": "Zoë <ZOE@acme.com>",
            "company": "", "owner": str(users["member"].id),
            "expected_close_date": "2030-06-30", "closed_reason": "",
        },
    )  # fmt: skip
    assert response.status_code == 303
    deal_url = response.headers["Location"]
    page = text(client.get(deal_url))
    assert "Acme renewal" in page and "$12,500.50" in page
    assert "Zoë" in page and "Acme" in page  # the contact's company by default
    assert "Jun 30, 2030" in page
    assert "Deal created" in page  # its first activity
    assert "Deal “Acme renewal” created." in page  # flash
    assert columns(board(client))[stage_ids["Qualified"]] == [int(deal_url.rsplit("/", 1)[1])]
    with app.app_context():
        from app.audit.models import AuditEntry

        entry = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_type == "deal", AuditEntry.action == "create"
            )
        ).one()
        assert (
            entry.changes["title"] == "Acme renewal" and entry.changes["contact"] == "zoe@acme.com"
        )


def test_bad_input_is_shown_in_the_form_and_nothing_is_saved(app, client, auth, stage_ids):
    auth.login("member")
    response = auth.post(
        "/pipeline/deals/new",
        {
            "title": " ", "value": "12,5,0x", "currency": "EURO", "stage": "999",
            "contact": "nobody@nowhere.org", "company": "Nope Inc", "owner": "12345",
            "expected_close_date": "30/06/2030", "closed_reason": "Because",
        },
    )  # fmt: skip
    assert response.status_code == 422
    page = text(response)
    for message in (
        "A deal needs a title.", "Enter an amount such as 1200.50.",
        "Enter an ISO 4217 currency code such as EUR or USD.", "No such stage.",
        "No such contact.", "No such company.", "No such user.", "Enter a date as YYYY-MM-DD.",
    ):  # fmt: skip
        assert message in page, message
    assert 'value="nobody@nowhere.org"' in page  # what was typed stays
    assert _deal_count(app) == 0
    # A reason on an open deal is refused, negative values too.
    response = auth.post(
        "/pipeline/deals/new",
        {"title": "Open", "value": "-5", "stage": str(stage_ids["Lead"]), "closed_reason": ""},
    )
    assert "The value cannot be negative." in text(response)
    response = auth.post(
        "/pipeline/deals/new",
        {"title": "Open", "stage": str(stage_ids["Lead"]), "closed_reason": "Why"},
    )
    assert response.status_code == 422
    assert "Only a won or lost deal has a won/lost reason." in text(response)
    assert _deal_count(app) == 0


def test_edit_a_deal_and_change_its_stage(app, client, auth, make_deal, make_contact, stage_ids):
    contact = make_contact(email="ann@initech.com", first_name="Ann")
    deal = make_deal(title="Initech", value="100", stage="Lead", contact="ann@initech.com")
    auth.login("member")
    page = text(client.get(f"/pipeline/deals/{deal}/edit"))
    assert 'value="Initech"' in page and 'value="ann@initech.com"' in page
    assert 'name="version" value="1"' in page
    response = auth.post(
        f"/pipeline/deals/{deal}/edit",
        {"title": "Initech expansion", "value": "2500", "currency": "GBP",
         "stage": str(stage_ids["Won"]), "contact": "ann@initech.com",
         "closed_reason": "Signed", "version": "1"},
    )  # fmt: skip
    assert response.status_code == 303
    page = text(client.get(f"/pipeline/deals/{deal}"))
    assert "Initech expansion" in page and "£2,500.00" in page and "Signed" in page
    row = deal_row(app, deal)
    assert row.version == 2 and row.closed_at is not None and row.stage_id == stage_ids["Won"]
    timeline = text(client.get(f"/contacts/{contact}"))
    assert "Deal won" in timeline


def test_a_stale_edit_shows_what_is_saved_and_saves_nothing(app, client, auth, api, make_deal):
    deal = make_deal(title="Shared", value="100", stage="Lead")
    auth.login("member")
    api("admin").patch(f"/api/v1/deals/{deal}", json={"value": 900})
    response = auth.post(
        f"/pipeline/deals/{deal}/edit", {"title": "Mine", "value": "150", "version": "1"}
    )
    assert response.status_code == 409
    page = text(response)
    assert "Someone else saved this deal" in page
    assert "900.00" in page  # the saved value is shown
    assert 'value="Mine"' in page and 'name="version" value="2"' in page  # save again: mine
    row = deal_row(app, deal)
    assert row.title == "Shared" and float(row.value) == 900
    response = auth.post(
        f"/pipeline/deals/{deal}/edit", {"title": "Mine", "value": "150", "version": "2"}
    )
    assert response.status_code == 303
    assert deal_row(app, deal).title == "Mine"


def test_delete_a_deal_keeps_its_timeline(app, client, auth, make_deal, make_contact, stage_ids):
    contact = make_contact(email="bea@globex.com", first_name="Béa")
    deal = make_deal(title="Globex", stage="Lead", contact="bea@globex.com")
    auth.login("member")
    page = text(client.get(f"/pipeline/deals/{deal}/delete"))
    assert "Delete “Globex”?" in page
    response = auth.post(f"/pipeline/deals/{deal}/delete", {"version": "1"})
    assert response.status_code == 303
    assert client.get(f"/pipeline/deals/{deal}").status_code == 404
    assert deal not in columns(board(client))[stage_ids["Lead"]]
    assert "Deal created" in text(client.get(f"/contacts/{contact}"))
    with app.app_context():
        from app.audit.models import AuditEntry

        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "deal")
        ).all()
    assert actions == ["create", "delete"]


def test_viewers_read_deals_but_cannot_change_them(app, client, auth, make_deal):
    deal = make_deal(title="Read only", stage="Lead")
    auth.login("viewer")
    assert client.get(f"/pipeline/deals/{deal}").status_code == 200
    assert "Edit" not in text(client.get(f"/pipeline/deals/{deal}")).split("deal-details")[1][:600]
    assert client.get("/pipeline/deals/new").status_code == 403
    assert auth.post("/pipeline/deals/new", {"title": "x"}).status_code == 403
    assert auth.post(f"/pipeline/deals/{deal}/delete", {}).status_code == 403
    assert deal_row(app, deal) is not None


def test_the_pickers_find_contacts_and_companies(app, client, auth, make_contact):
    make_contact(email="zoe@acme.com", first_name="Zoë", last_name="Ørsted", company="Acme")
    make_contact(email="carl@initech.com", first_name="Carl", company="Initech")
    auth.login("member")
    options = text(
        client.get("/pipeline/pick/contacts?contact=zoe", headers={"HX-Request": "true"})
    )
    assert '<option value="zoe@acme.com">Zoë Ørsted &lt;zoe@acme.com&gt;</option>' in options
    assert "carl" not in options
    assert "zoe@acme.com" in text(client.get("/pipeline/pick/contacts?contact=orsted"))
    options = text(client.get("/pipeline/pick/companies?company=nit"))
    assert '<option value="Initech">Initech</option>' in options and "Acme" not in options
    assert text(client.get("/pipeline/pick/contacts?contact=")).strip() == ""


def test_the_deals_list_filters_sorts_and_pages(app, client, auth, users, make_deal, stage_ids):
    for i in range(55):
        make_deal(title=f"Deal {i:02d}", value=str(i * 10), stage="Lead" if i % 2 else "Won")
    make_deal(
        "admin", title="Admin's", value="7", stage="Proposal", expected_close_date="2031-01-15"
    )
    auth.login("member")
    page = text(client.get("/pipeline/deals"))
    assert "56 deals" in page
    assert len(re.findall(r"<tr data-deal=", page)) == 50
    assert "Page 1 of 2" in page
    page = text(client.get("/pipeline/deals?page=2"))
    assert len(re.findall(r"<tr data-deal=", page)) == 6
    page = text(client.get(f"/pipeline/deals?stage={stage_ids['Lead']}&sort=-value"))
    assert "27 deals" in page
    titles = re.findall(r'/pipeline/deals/\d+">([^<]+)</a>', page)
    assert titles[:3] == ["Deal 53", "Deal 51", "Deal 49"]
    page = text(client.get("/pipeline/deals?sort=title&q=deal 0"))
    assert re.findall(r'/pipeline/deals/\d+">([^<]+)</a>', page)[:2] == ["Deal 00", "Deal 01"]
    page = text(client.get(f"/pipeline/deals?owner={users['admin'].id}"))
    assert "1 deal" in page and "Admin&#39;s" in page
    page = text(client.get("/pipeline/deals?close_from=2031-01-01&close_to=2031-12-31"))
    assert "1 deal" in page
    assert text(client.get("/pipeline/deals?owner=me")).count("<tr data-deal=") == 50
    fragment = client.get("/pipeline/deals?owner=me", headers={"HX-Request": "true"})
    assert text(fragment).lstrip().startswith('<section id="deal-results">')
    assert "Unknown sort." in text(client.get("/pipeline/deals?sort=bogus"))


def test_contact_and_company_pages_list_their_deals(app, client, auth, make_deal, make_contact):
    contact = make_contact(email="dana@umbrella.com", first_name="Dana", company="Umbrella")
    make_deal(title="Umbrella pilot", value="5000", stage="Proposal", contact="dana@umbrella.com")
    auth.login("member")
    page = text(client.get(f"/contacts/{contact}"))
    section = page[page.index('id="related-deals"') :]
    assert "Umbrella pilot" in section and "Proposal" in section and "€5,000.00" in section
    assert f"/pipeline/deals/new?contact={contact}" in section
    with app.app_context():
        from app.companies.models import Company

        company_id = db.session.scalar(select(Company.id).where(Company.name == "Umbrella"))
    page = text(client.get(f"/companies/{company_id}"))
    assert "Umbrella pilot" in page[page.index('id="related-deals"') :]
    # "New deal" from the contact page: the form knows the contact and its company.
    form = text(client.get(f"/pipeline/deals/new?contact={contact}&next=/contacts/{contact}"))
    assert 'value="dana@umbrella.com"' in form and 'value="Umbrella"' in form
    assert f'name="next" value="/contacts/{contact}"' in form
