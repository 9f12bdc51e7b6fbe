"""Pipeline test helpers: stages by name, deals made through the deal service, and readers
of the board page (cards per column, column totals) as a person sees them."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db


@pytest.fixture
def stage_ids(app) -> dict[str, int]:
    """The default stages' ids by name (Lead ... Lost)."""
    from app.pipeline.models import Stage

    with app.app_context():
        return {s.name: s.id for s in db.session.scalars(select(Stage))}


@pytest.fixture
def make_deal(app, users):
    """Create a deal through the service as a role (member by default): make_deal(title=...)."""
    from app.auth.models import User
    from app.pipeline.service import create_deal

    def make(role: str = "member", **data: Any) -> int:
        data.setdefault("title", "Deal")
        with app.app_context():
            user = db.session.get(User, users[role].id)
            deal = create_deal(data, actor=user, via="test")
            db.session.commit()
            return deal.id

    return make


@pytest.fixture
def make_contact(app, users):
    """Create a contact through the contact service: make_contact(email=..., ...)."""
    from app.auth.models import User
    from app.contacts.service import create_contact

    def make(**data: Any) -> int:
        with app.app_context():
            member = db.session.get(User, users["member"].id)
            contact = create_contact(data, actor=member, via="test")
            db.session.commit()
            return contact.id

    return make


def text(response) -> str:
    return response.data.decode()


COLUMN_RE = re.compile(r'<ol class="deal-list" id="stage-(\d+)-cards".*?>(.*?)</ol>', re.S)
CARD_RE = re.compile(r'<li class="deal-card" id="deal-(\d+)"')
TOTALS_RE = re.compile(r'<p class="column-totals" id="stage-(\d+)-totals"[^>]*>(.*?)</p>', re.S)


def columns(page: str) -> dict[int, list[int]]:
    """Deal ids per stage id, in the order the board shows them."""
    return {
        int(sid): [int(i) for i in CARD_RE.findall(body)] for sid, body in COLUMN_RE.findall(page)
    }


def totals(page: str) -> dict[int, str]:
    """Each column's totals line as text ("2 deals €1,500.00"), by stage id."""
    out = {}
    for sid, body in TOTALS_RE.findall(page):
        plain = html.unescape(re.sub(r"<[^>]+>", " ", body))
        out[int(sid)] = " ".join(plain.split())
    return out


def board(client, query: str = "") -> str:
    response = client.get("/pipeline/" + query)
    assert response.status_code == 200, response.data[:500]
    return text(response)


def deal_row(app, deal_id: int):
    """The stored deal (detached), to check what a request saved."""
    from app.pipeline.models import Deal

    with app.app_context():
        deal = db.session.get(Deal, deal_id)
        if deal is not None:
            db.session.expunge(deal)
        return deal
