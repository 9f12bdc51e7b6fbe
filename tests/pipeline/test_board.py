"""The board page: columns in stage order, cards, totals from one grouped query, filters
kept in the URL, lazy column pages, and a constant number of queries per render."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import insert

from app.extensions import db
from tests.pipeline.conftest import board, columns, text, totals
from tests.queries import counting_queries


def test_columns_follow_the_stage_order_and_cards_show_what_matters(
    app, client, auth, users, make_deal, make_contact, stage_ids
):
    make_contact(email="zoe@acme.com", first_name="Zoë", last_name="Ørsted")
    make_deal(title="Acme renewal", value="12000", currency="EUR", contact="zoe@acme.com",
              stage="Proposal")  # fmt: skip
    auth.login("member")
    page = board(client)
    names = re.findall(r'<h2 id="stage-\d+-name">([^<]+)</h2>', page)
    assert names == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    card = page[page.index('class="deal-card"') :]
    card = card[: card.index("</li>")]
    assert "Acme renewal" in card and "€12,000.00" in card
    assert "Zoë Ørsted" in card and "Member" in card  # contact and owner
    assert "0 days in stage" in card
    assert '<select name="stage" class="deal-stage"' in card  # the keyboard stage menu
    assert totals(page)[stage_ids["Proposal"]] == "1 deal €12,000.00"
    assert totals(page)[stage_ids["Lead"]] == "0 deals"


def test_days_in_stage_count_from_the_last_stage_change(app, client, auth, make_deal):
    deal_id = make_deal(title="Old one", stage="Lead")
    with app.app_context():
        from app.pipeline.models import Deal
        from app.timeutil import utcnow

        db.session.get(Deal, deal_id).stage_entered_at = utcnow() - timedelta(days=12, hours=1)
        db.session.commit()
    auth.login("viewer")
    assert "12 days in stage" in board(client)


def test_filters_by_owner_my_deals_and_close_dates_stay_in_the_url(
    app, client, auth, users, make_deal, stage_ids
):
    lead = stage_ids["Lead"]
    today = date.today()
    mine_soon = make_deal(title="Mine soon", value="100", stage="Lead",
                          expected_close_date=(today + timedelta(days=5)).isoformat())  # fmt: skip
    mine_late = make_deal(title="Mine late", value="200", stage="Lead",
                          expected_close_date=(today + timedelta(days=90)).isoformat())  # fmt: skip
    theirs = make_deal("admin", title="Theirs", value="400", stage="Lead")
    nobody = make_deal(title="Nobody's", value="800", stage="Lead", owner=None)
    auth.login("member")
    assert set(columns(board(client))[lead]) == {mine_soon, mine_late, theirs, nobody}

    page = board(client, "?owner=me")
    assert set(columns(page)[lead]) == {mine_soon, mine_late}
    assert totals(page)[lead] == "2 deals €300.00"  # totals follow the filters
    assert '<option value="me" selected>' in page  # the form shows the filter
    assert set(columns(board(client, f"?owner={users['admin'].id}"))[lead]) == {theirs}
    assert set(columns(board(client, "?owner=none"))[lead]) == {nobody}
    window = f"?close_from={today.isoformat()}&close_to={(today + timedelta(days=30)).isoformat()}"
    page = board(client, window)
    assert columns(page)[lead] == [mine_soon]
    # The card forms carry the filters, so a move answers totals of the same board.
    assert '<input type="hidden" name="close_from"' in page
    # htmx filter changes swap the board only.
    fragment = client.get("/pipeline/?owner=me", headers={"HX-Request": "true"})
    assert text(fragment).lstrip().startswith('<div id="board"')
    # A bad filter value is named, not a 500.
    page = board(client, "?close_from=yesterday&owner=bob")
    assert "close_from: Enter a date as YYYY-MM-DD." in page
    assert len(columns(page)[lead]) == 4


def _bulk_deals(
    app, stage_id: int, n: int, owner_id: int | None = None, same_place: bool = False
) -> list[int]:
    """n deals in one column at positions 1024, 2048, ... (a big board, loaded fast);
    all at one position with `same_place` (as two saves at the same moment can leave)."""
    from app.pipeline.models import Deal
    from app.timeutil import utcnow

    now = utcnow()
    with app.app_context():
        start = db.session.scalar(db.select(db.func.coalesce(db.func.max(Deal.id), 0)))
        rows = [
            {
                "id": start + i + 1, "title": f"Bulk {i:04d}", "value": 10, "currency": "EUR",
                "stage_id": stage_id, "position": 1024.0 * (1 if same_place else i + 1),
                "owner_id": owner_id,
                "stage_entered_at": now, "created_at": now, "updated_at": now, "version": 1,
            }
            for i in range(n)
        ]  # fmt: skip
        db.session.execute(insert(Deal), rows)
        db.session.commit()
    return [r["id"] for r in rows]


def test_columns_load_lazily_fifty_cards_at_a_time(app, client, auth, users, stage_ids):
    lead = stage_ids["Lead"]
    ids = _bulk_deals(app, lead, 120)
    auth.login("member")
    page = board(client)
    assert columns(page)[lead] == ids[:50]
    assert totals(page)[lead] == "120 deals €1,200.00"  # totals count every deal
    sentinel = re.search(rf'<div class="column-more" id="stage-{lead}-more" hx-get="([^"]+)"', page)
    assert sentinel and 'hx-trigger="intersect once"' in page
    url = sentinel.group(1).replace("&amp;", "&")
    seen = list(ids[:50])
    while url:
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200
        body = text(response)
        seen += [int(i) for i in re.findall(r'<li class="deal-card" id="deal-(\d+)"', body)]
        more = re.search(rf'id="stage-{lead}-more" hx-swap-oob="true" hx-get="([^"]+)"', body)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == ids  # every card once, in order
    # Without htmx the "more" link opens the deals list of that stage.
    response = client.get(f"/pipeline/stages/{lead}/cards?after=1024.0:{ids[0]}")
    assert response.status_code == 303 and f"stage={lead}" in response.headers["Location"]


def test_lazy_pages_walk_deals_that_share_a_position(app, client, auth, stage_ids):
    lead = stage_ids["Lead"]
    ids = _bulk_deals(app, lead, 75, same_place=True)
    auth.login("member")
    page = board(client)
    assert columns(page)[lead] == ids[:50]
    url = re.search(rf'id="stage-{lead}-more" hx-get="([^"]+)"', page).group(1)
    body = text(client.get(url.replace("&amp;", "&"), headers={"HX-Request": "true"}))
    assert [int(i) for i in re.findall(r'id="deal-(\d+)"', body)] == ids[50:]
    # A card dropped between two of them still lands between them.
    response = auth.post(
        f"/pipeline/deals/{ids[-1]}/move",
        {"stage": lead, "before": ids[0], "after": ids[1], "version": 1},
        htmx=True,
    )
    assert response.status_code == 200
    assert columns(board(client))[lead][:3] == [ids[0], ids[-1], ids[1]]


def test_lazy_pages_keep_the_filters(app, client, auth, users, stage_ids):
    lead = stage_ids["Lead"]
    member = users["member"].id
    _bulk_deals(app, lead, 30, owner_id=users["admin"].id)
    mine = _bulk_deals(app, lead, 60, owner_id=member)
    auth.login("member")
    page = board(client, "?owner=me")
    assert columns(page)[lead] == mine[:50]
    url = re.search(rf'id="stage-{lead}-more" hx-get="([^"]+)"', page).group(1)
    assert "owner=me" in url
    body = text(client.get(url.replace("&amp;", "&"), headers={"HX-Request": "true"}))
    assert [int(i) for i in re.findall(r'id="deal-(\d+)"', body)] == mine[50:]


def _count_queries(app, client, url: str) -> tuple[int, str]:
    with counting_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements), response.data.decode()


def test_the_board_costs_the_same_queries_for_ten_or_thousands_of_deals(
    app, client, auth, users, make_contact, stage_ids
):
    auth.login("member")
    for name in ("Lead", "Proposal", "Won"):
        _bulk_deals(app, stage_ids[name], 3, owner_id=users["member"].id)
    client.get("/pipeline/")  # warm up the session
    small, page = _count_queries(app, client, "/pipeline/")
    assert sum(len(c) for c in columns(page).values()) == 9
    for name in ("Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"):
        _bulk_deals(app, stage_ids[name], 400, owner_id=users["admin"].id)
    large, page = _count_queries(app, client, "/pipeline/")
    assert sum(len(c) for c in columns(page).values()) == 6 * 50
    assert small == large, (small, large)
    assert large <= 8, large
    filtered, _ = _count_queries(app, client, "/pipeline/?owner=me&close_to=2030-01-01")
    assert filtered == large


def test_a_board_without_stages_says_so(app, client, auth):
    with app.app_context():
        from app.pipeline.models import Stage

        db.session.execute(db.delete(Stage))
        db.session.commit()
    auth.login("admin")
    page = board(client)
    assert "The pipeline has no stages yet." in page and "/pipeline/stages" in page


def test_demo_data_fills_the_board(app, client, auth, runner):
    result = runner.invoke(args=["seed", "--contacts", "100"])
    assert result.exit_code == 0, result.output
    auth.login("viewer")
    page = board(client)
    assert sum(len(ids) for ids in columns(page).values()) == 20
    assert sum(int(t.split()[0]) for t in totals(page).values()) == 20
    # Seeding again adds contacts, not more demo deals.
    assert runner.invoke(args=["seed", "--contacts", "50"]).exit_code == 0
    assert sum(len(ids) for ids in columns(board(client)).values()) == 20
