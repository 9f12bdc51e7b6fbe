"""Moving cards on the board the way the page does (htmx posts from the drag and drop
script, and the card's own form without JavaScript): order, totals, won/lost
bookkeeping, the contact's timeline, and refused moves that change nothing."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import func, select

from app.extensions import db
from tests.pipeline.conftest import board, columns, deal_row, text, totals


def _move(auth, deal_id: int, htmx: bool = True, **form):
    return auth.post(f"/pipeline/deals/{deal_id}/move", form, htmx=htmx)


def _version(app, deal_id: int) -> int:
    return deal_row(app, deal_id).version


def test_drop_between_columns_saves_the_place_and_answers_totals(
    app, client, auth, make_deal, stage_ids
):
    lead, proposal = stage_ids["Lead"], stage_ids["Proposal"]
    a = make_deal(title="Alpha", value="1000", stage="Lead")
    b = make_deal(title="Beta", value="250.50", stage="Lead")
    c = make_deal(title="Gamma", value="300", currency="USD", stage="Proposal")
    d = make_deal(title="Delta", value="100", stage="Proposal")
    auth.login("member")
    page = board(client)
    assert columns(page)[lead] == [b, a]  # a new deal goes to the top
    assert columns(page)[proposal] == [d, c]
    assert totals(page)[lead] == "2 deals €1,250.50"

    # Drop Alpha between Delta and Gamma.
    response = _move(auth, a, stage=proposal, before=d, after=c, version=_version(app, a))
    assert response.status_code == 200
    body = text(response)
    assert 'hx-swap-oob="true"' in body
    assert totals(body)[lead] == "1 deal €250.50"
    assert totals(body)[proposal] == "3 deals €1,100.00 · $300.00"  # per currency
    assert "“Alpha” moved to Proposal." in body
    assert f'id="deal-{a}" hx-swap-oob="innerHTML"' in body  # the card, with its new version

    page = board(client)
    assert columns(page)[lead] == [b]
    assert columns(page)[proposal] == [d, a, c]
    assert totals(page)[proposal] == "3 deals €1,100.00 · $300.00"


def test_moves_within_a_column_keep_the_order_the_user_made(
    app, client, auth, make_deal, stage_ids
):
    lead = stage_ids["Lead"]
    ids = [make_deal(title=f"D{i}", stage="Lead") for i in range(5)]
    auth.login("member")
    shown = columns(board(client))[lead]
    assert shown == ids[::-1]
    # Drag the last card to the top, then the top one between the 3rd and 4th.
    last = shown[-1]
    assert (
        _move(auth, last, stage=lead, after=shown[0], version=_version(app, last)).status_code
        == 200
    )
    expected = [last, *shown[:-1]]
    assert columns(board(client))[lead] == expected
    first = expected[0]
    assert (
        _move(auth, first, stage=lead, before=expected[2], after=expected[3],
              version=_version(app, first)).status_code == 200
    )  # fmt: skip
    expected = [expected[1], expected[2], first, expected[3], expected[4]]
    assert columns(board(client))[lead] == expected


def test_a_crowded_column_is_renumbered_and_stays_in_order(app, client, auth, make_deal, stage_ids):
    lead = stage_ids["Lead"]
    bottom = make_deal(title="Bottom", stage="Lead")
    top = make_deal(title="Top", stage="Lead")
    incoming = [make_deal(title=f"In {i}", stage="Qualified") for i in range(36)]
    auth.login("member")
    # Each card is dropped just above Bottom, below the one dropped before it: every drop
    # halves the same gap, until no float fits in it and the column is renumbered.
    expected = [top, bottom]
    above = top
    for deal_id in incoming:
        response = _move(auth, deal_id, stage=lead, before=above, after=bottom, version=1)
        assert response.status_code == 200, response.data[:300]
        expected.insert(-1, deal_id)
        above = deal_id
    assert columns(board(client))[lead] == expected
    with app.app_context():
        from app.pipeline.models import Deal

        values = list(
            db.session.scalars(
                select(Deal.position).where(Deal.stage_id == lead).order_by(Deal.position)
            )
        )
    assert len(set(values)) == len(values) == 38
    # 36 halvings of a 1024 gap would leave 1.5e-8: the column was spread out meanwhile.
    assert min(b - a for a, b in itertools.pairwise(values)) > 1e-3


def test_won_and_lost_set_a_closing_date_that_leaving_clears(
    app, client, auth, make_deal, stage_ids
):
    deal = make_deal(title="Big one", stage="Negotiation")
    auth.login("member")
    assert _move(auth, deal, stage=stage_ids["Won"], version=1).status_code == 200
    row = deal_row(app, deal)
    assert row.closed_at is not None
    page = text(client.get(f"/pipeline/deals/{deal}"))
    assert "Won on" in page
    # A reason can be given once it is won (the edit form).
    form = {
        "title": "Big one", "stage": str(stage_ids["Won"]), "closed_reason": "Best price",
        "currency": "EUR", "version": str(row.version),
    }  # fmt: skip
    assert auth.post(f"/pipeline/deals/{deal}/edit", form).status_code == 303
    assert "Best price" in text(client.get(f"/pipeline/deals/{deal}"))
    # Won -> Lost: a new closing date; Lost -> Proposal: no date, no reason.
    assert (
        _move(auth, deal, stage=stage_ids["Lost"], version=_version(app, deal)).status_code == 200
    )
    assert deal_row(app, deal).closed_at is not None
    assert (
        _move(auth, deal, stage=stage_ids["Proposal"], version=_version(app, deal)).status_code
        == 200
    )
    row = deal_row(app, deal)
    assert row.closed_at is None and row.closed_reason is None
    page = text(client.get(f"/pipeline/deals/{deal}"))
    assert "Best price" not in page and "Won on" not in page


def test_each_stage_change_shows_on_the_contact_timeline(
    app, client, auth, make_deal, make_contact, stage_ids
):
    contact = make_contact(email="zoe@acme.com", first_name="Zoë")
    deal = make_deal(title="Acme renewal", stage="Lead", contact="zoe@acme.com")
    auth.login("member")
    _move(auth, deal, stage=stage_ids["Proposal"], version=1)
    _move(auth, deal, stage=stage_ids["Won"], version=_version(app, deal))
    _move(auth, deal, stage=stage_ids["Negotiation"], version=_version(app, deal))
    _move(auth, deal, stage=stage_ids["Lost"], version=_version(app, deal))
    with app.app_context():
        from app.contacts.models import Contact
        from app.timeline.models import Activity

        rows = db.session.execute(
            select(Activity.kind, Activity.data, Activity.deal_id)
            .where(Activity.contact_id == contact)
            .order_by(Activity.id)
        ).all()
        last_activity = db.session.get(Contact, contact).last_activity_at
    assert [r.kind for r in rows] == [
        "deal_created", "deal_stage_changed", "deal_won", "deal_stage_changed", "deal_lost"
    ]  # fmt: skip
    assert [(r.data.get("from"), r.data["to"]) for r in rows] == [
        (None, "Lead"), ("Lead", "Proposal"), ("Proposal", "Won"), ("Won", "Negotiation"),
        ("Negotiation", "Lost"),
    ]  # fmt: skip
    assert {r.deal_id for r in rows} == {deal}
    assert last_activity is not None
    page = text(client.get(f"/contacts/{contact}"))
    assert "Deal lost" in page and "Deal won" in page and "Acme renewal" in page
    assert "Negotiation → Lost" in page
    # A move within a column is not a stage change: nothing new on the timeline.
    _move(auth, deal, stage=stage_ids["Lost"], version=_version(app, deal))
    with app.app_context():
        from app.timeline.models import Activity

        n = db.session.scalar(select(func.count()).where(Activity.contact_id == contact))
    assert n == 5


def test_a_stale_version_is_refused_and_nothing_moves(app, client, auth, api, make_deal, stage_ids):
    deal = make_deal(title="Contested", stage="Lead")
    auth.login("member")
    before = board(client)
    # Someone else edits it (through the API): the card on the board is stale now.
    assert api("admin").patch(f"/api/v1/deals/{deal}", json={"title": "Renamed"}).status_code == 200
    response = _move(auth, deal, stage=stage_ids["Proposal"], version=1)
    assert response.status_code == 409
    body = text(response)
    assert "Someone else changed" in body and 'id="flash"' in body
    assert f'id="deal-{deal}" hx-swap-oob="innerHTML"' in body  # fresh card, new version
    assert 'name="version" value="2"' in body
    after = board(client)
    assert columns(after) == columns(before)
    assert deal_row(app, deal).stage_id == stage_ids["Lead"]


def test_moving_a_deleted_deal_answers_404_with_a_message(
    app, client, auth, api, make_deal, stage_ids
):
    deal = make_deal(title="Gone soon", value="10", stage="Lead")
    keep = make_deal(title="Stays", value="5", stage="Lead")
    auth.login("member")
    assert api("admin").delete(f"/api/v1/deals/{deal}").status_code == 204
    response = _move(auth, deal, stage=stage_ids["Proposal"], version=1)
    assert response.status_code == 404
    body = text(response)
    assert "This deal was deleted meanwhile" in body
    assert totals(body)[stage_ids["Lead"]] == "1 deal €5.00"  # fresh totals for the board
    assert columns(board(client))[stage_ids["Lead"]] == [keep]


def test_keyboard_and_no_javascript_moves(app, client, auth, make_deal, stage_ids):
    lead = stage_ids["Lead"]
    a, b, c = (make_deal(title=t, stage="Lead") for t in ("A", "B", "C"))
    auth.login("member")
    assert columns(board(client))[lead] == [c, b, a]
    # The card's form without JavaScript: "move up" posts move=up and reloads the board.
    response = _move(auth, a, htmx=False, move="up", stage=lead, version=1)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/pipeline/#deal-{a}")
    assert columns(board(client))[lead] == [c, a, b]
    assert _move(auth, c, htmx=False, move="down", version=1).status_code == 303
    assert columns(board(client))[lead] == [a, c, b]
    # At the edge nothing changes.
    _move(auth, a, move="up", version=_version(app, a))
    assert columns(board(client))[lead] == [a, c, b]
    # The stage menu (move=stage): to the top of that column.
    response = _move(auth, b, htmx=False, move="stage", stage=stage_ids["Qualified"], version=1)
    page = board(client)
    assert "“B” moved to Qualified." in page  # the flash after the redirect
    assert columns(page)[stage_ids["Qualified"]] == [b]
    assert columns(page)[lead] == [a, c]


def test_move_up_counts_only_the_cards_the_filtered_board_shows(
    app, client, auth, users, make_deal, stage_ids
):
    lead = stage_ids["Lead"]
    mine_1 = make_deal(title="Mine 1", stage="Lead")
    make_deal("admin", title="Theirs", stage="Lead")
    mine_2 = make_deal(title="Mine 2", stage="Lead")
    auth.login("member")
    assert columns(board(client, "?owner=me"))[lead] == [mine_2, mine_1]
    _move(auth, mine_1, move="up", owner="me", version=1)
    assert columns(board(client, "?owner=me"))[lead] == [mine_1, mine_2]


def test_viewers_cannot_move_and_see_no_move_controls(app, client, auth, make_deal, stage_ids):
    deal = make_deal(title="Look only", stage="Lead")
    auth.login("viewer")
    page = board(client)
    assert columns(page)[stage_ids["Lead"]] == [deal]
    assert "deal-handle" not in page and 'class="deal-move"' not in page
    assert "data-can-write" not in page
    assert _move(auth, deal, stage=stage_ids["Won"], version=1).status_code == 403
    assert deal_row(app, deal).stage_id == stage_ids["Lead"]


def test_every_move_is_audited(app, client, auth, make_deal, stage_ids):
    deal = make_deal(title="Tracked", stage="Lead")
    auth.login("member")
    _move(auth, deal, stage=stage_ids["Qualified"], version=1)
    with app.app_context():
        from app.audit.models import AuditEntry

        entries = db.session.execute(
            select(AuditEntry.action, AuditEntry.changes, AuditEntry.via)
            .where(AuditEntry.entity_type == "deal", AuditEntry.entity_id == deal)
            .order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == ["create", "move"]
    assert entries[1].changes["stage"] == ["Lead", "Qualified"]
    assert entries[1].via == "web"


def test_a_move_to_a_missing_stage_is_refused(app, client, auth, make_deal, stage_ids):
    deal = make_deal(title="Lost in space", stage="Lead")
    auth.login("member")
    response = _move(auth, deal, stage=99999, version=1)
    assert response.status_code == 422
    assert "no longer exists" in text(response)
    assert deal_row(app, deal).stage_id == stage_ids["Lead"]
    assert re.search(rf"deal-{deal}", board(client))
