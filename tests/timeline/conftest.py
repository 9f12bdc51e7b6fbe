"""Helpers for the timeline tests: contacts made through the contact service, activities
stored the way the API stores them, and the timeline read back from its pages."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.contacts.models import Contact
from app.contacts.service import create_contact
from app.extensions import db
from app.timeline.models import Activity


@pytest.fixture
def make_contact(app, users):
    """Create a contact through the service (as the member): make_contact(email=..., ...)."""
    from app.auth.models import User

    def make(**data: Any) -> int:
        with app.app_context():
            member = db.session.get(User, users["member"].id)
            contact = create_contact(data, actor=member, via="test")
            db.session.commit()
            return contact.id

    return make


@pytest.fixture
def add_activities(app, users):
    """Store activities as the activity API does: add_activities(contact_id, [{kind, ...}])."""
    from app.auth.models import User
    from app.timeline.ingest import clean_activity, ingest

    def add(contact_id: int, items: list[dict[str, Any]], role: str = "member") -> list[int]:
        with app.app_context():
            user = db.session.get(User, users[role].id)
            cleaned = [clean_activity({**item, "contact_id": contact_id}) for item in items]
            result = ingest(db.session, cleaned, actor=user, via="api")
            db.session.commit()
            return result.ids

    return add


def contact_row(app, contact_id: int) -> Contact:
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        db.session.expunge(contact)
        return contact


def activities_of(app, contact_id: int) -> list[Activity]:
    """The contact's activities, oldest first, detached."""
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Activity)
                .where(Activity.contact_id == contact_id)
                .order_by(Activity.occurred_at, Activity.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


ENTRY_RE = re.compile(r'<li id="activity-(\d+)" class="activity activity-([a-z_]+)')


def entry_ids(html: bytes | str) -> list[int]:
    """Activity ids of the timeline entries, in page order."""
    text = html.decode() if isinstance(html, bytes) else html
    return [int(i) for i, _kind in ENTRY_RE.findall(text)]


def entry_kinds(html: bytes | str) -> list[str]:
    text = html.decode() if isinstance(html, bytes) else html
    return [kind for _i, kind in ENTRY_RE.findall(text)]


MORE_RE = re.compile(r'<li class="timeline-more" hx-get="([^"]+)"')


def more_url(html: bytes | str) -> str | None:
    """The URL the "load more" sentinel asks for when revealed (None on the last page)."""
    text = html.decode() if isinstance(html, bytes) else html
    match = MORE_RE.search(text)
    return match.group(1).replace("&amp;", "&") if match else None


def htmx(client, path: str, **kwargs):
    """GET like htmx does (HX-Request)."""
    headers = {"HX-Request": "true", **kwargs.pop("headers", {})}
    return client.get(path, headers=headers, **kwargs)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
