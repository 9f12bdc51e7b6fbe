"""Stage settings (admins): add, rename, reorder, mark open/won/lost, delete empty stages;
members and viewers cannot."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from tests.pipeline.conftest import board, deal_row, text


def _board_stages(client) -> list[str]:
    return re.findall(r'<h2 id="stage-\d+-name">([^<]+)</h2>', board(client))


def test_admins_add_rename_reorder_and_delete_stages(app, client, auth, stage_ids):
    auth.login("admin")
    page = text(client.get("/pipeline/stages"))
    assert "Pipeline stages" in page and 'value="Negotiation"' in page
    assert (
        auth.post("/pipeline/stages", {"name": "  Demo  done ", "outcome": "open"}).status_code
        == 303
    )
    assert _board_stages(client)[-1] == "Demo done"
    with app.app_context():
        from app.pipeline.models import Stage

        demo = db.session.scalar(select(Stage.id).where(Stage.name == "Demo done"))
    # Move it left three times: between Proposal and Negotiation.
    for _ in range(3):
        assert auth.post(f"/pipeline/stages/{demo}/move", {"direction": "up"}).status_code == 303
    assert _board_stages(client) == [
        "Lead", "Qualified", "Proposal", "Demo done", "Negotiation", "Won", "Lost"
    ]  # fmt: skip
    assert (
        auth.post(f"/pipeline/stages/{demo}", {"name": "Demo", "outcome": "open"}).status_code
        == 303
    )
    assert "Demo" in _board_stages(client)
    assert auth.post(f"/pipeline/stages/{demo}/delete", {}).status_code == 303
    assert "Demo" not in _board_stages(client)
    # The edge: moving the first stage left does nothing.
    auth.post(f"/pipeline/stages/{stage_ids['Lead']}/move", {"direction": "up"})
    assert _board_stages(client)[0] == "Lead"
    with app.app_context():
        from app.audit.models import AuditEntry

        actions = db.session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "stage", AuditEntry.entity_id == demo
            )
        ).all()
    assert actions == ["create", "update", "update", "update", "update", "delete"]


def test_stage_names_are_required_and_unique(app, client, auth, stage_ids):
    auth.login("admin")
    response = auth.post("/pipeline/stages", {"name": "lead", "outcome": "open"})
    assert response.status_code == 422
    assert "Another stage has this name." in text(response)
    response = auth.post(f"/pipeline/stages/{stage_ids['Won']}", {"name": "", "outcome": "won"})
    assert response.status_code == 422 and "A stage needs a name." in text(response)
    response = auth.post("/pipeline/stages", {"name": "Odd", "outcome": "maybe"})
    assert "Choose open, won or lost." in text(response)
    assert len(_board_stages(client)) == 6


def test_a_stage_with_deals_is_not_deleted(app, client, auth, make_deal, stage_ids):
    deal = make_deal(title="Holds it", stage="Proposal")
    auth.login("admin")
    page = text(client.get("/pipeline/stages"))
    row = page[page.index(f'id="stage-{stage_ids["Proposal"]}"') :]
    assert 'disabled title="Move its deals to another stage first."' in row[: row.index("</tr>")]
    response = auth.post(f"/pipeline/stages/{stage_ids['Proposal']}/delete", {})
    assert response.status_code == 303
    page = text(client.get("/pipeline/stages"))
    assert "Move the deals of Proposal (1) to another stage before deleting it." in page
    assert "Proposal" in _board_stages(client)
    assert deal_row(app, deal).stage_id == stage_ids["Proposal"]


def test_marking_a_stage_won_closes_its_deals_and_open_reopens_them(
    app, client, auth, make_deal, stage_ids
):
    deal = make_deal(title="Signed elsewhere", stage="Negotiation")
    auth.login("admin")
    auth.post(f"/pipeline/stages/{stage_ids['Negotiation']}", {"name": "Signed", "outcome": "won"})
    assert deal_row(app, deal).closed_at is not None
    page = board(client)
    assert f'class="board-column outcome-won" id="stage-{stage_ids["Negotiation"]}"' in page
    auth.post(f"/pipeline/stages/{stage_ids['Negotiation']}", {"name": "Signed", "outcome": "open"})
    assert deal_row(app, deal).closed_at is None


def test_only_admins_manage_stages(app, client, auth, stage_ids):
    for role in ("member", "viewer"):
        auth.login(role)
        assert client.get("/pipeline/stages").status_code == 403
        assert auth.post("/pipeline/stages", {"name": "Sneaky"}).status_code == 403
        assert auth.post(f"/pipeline/stages/{stage_ids['Lead']}", {"name": "X"}).status_code == 403
        assert auth.post(f"/pipeline/stages/{stage_ids['Lost']}/delete", {}).status_code == 403
        assert "/pipeline/stages" not in board(client)
        auth.logout()
    auth.login("admin")
    assert _board_stages(client) == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]


def test_the_last_stage_stays_and_defaults_come_back(app, client, auth, stage_ids):
    auth.login("admin")
    for name in ("Lead", "Qualified", "Proposal", "Negotiation", "Won"):
        assert auth.post(f"/pipeline/stages/{stage_ids[name]}/delete", {}).status_code == 303
    auth.post(f"/pipeline/stages/{stage_ids['Lost']}/delete", {})
    assert "The pipeline needs at least one stage." in text(client.get("/pipeline/stages"))
    assert _board_stages(client) == ["Lost"]
    with app.app_context():
        from app.pipeline.models import Stage

        db.session.execute(db.delete(Stage))
        db.session.commit()
    assert "No stages yet." in text(client.get("/pipeline/stages"))
    auth.post("/pipeline/stages/defaults", {})
    assert _board_stages(client) == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
