"""Fixtures of the duplicates tests: contacts made through the contact service, custom
fields, lists, and suggested pairs as the scan stores them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from app.extensions import db
from tests.contacts import conftest as contact_fixtures

# The contact tests' fixtures, shared rather than copied.
make_contact = contact_fixtures.make_contact
custom_field = contact_fixtures.custom_field


@pytest.fixture
def make_pair(app):
    """Store an open suggested pair as the scan does: make_pair(a, b, score=92)."""
    from app.dedupe.models import DuplicatePair

    def make(a: int, b: int, score: int = 90, reasons=None, cluster_id=None) -> int:
        with app.app_context():
            pair = DuplicatePair(
                contact_a_id=min(a, b),
                contact_b_id=max(a, b),
                score=score,
                reasons=reasons if reasons is not None else [{"code": "same_phone"}],
                cluster_id=cluster_id,
                status="open",
            )
            db.session.add(pair)
            db.session.commit()
            return pair.id

    return make


@pytest.fixture
def contact_state(app):
    """Everything stored about a contact, to compare before a merge and after its undo:
    every column, tags, custom values, list memberships, activities and deals."""
    from sqlalchemy import select

    from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
    from app.lists.models import ListMembership
    from app.pipeline.models import Deal
    from app.timeline.models import Activity

    def state(contact_id: int, *, skip: tuple[str, ...] = ()) -> dict[str, Any] | None:
        with app.app_context():
            table = Contact.__table__
            row = db.session.execute(select(table).where(table.c.id == contact_id)).first()
            if row is None:
                return None
            columns = {k: v for k, v in row._mapping.items() if k not in skip}
            tags = sorted(
                db.session.scalars(
                    select(Tag.name)
                    .join(ContactTag, ContactTag.tag_id == Tag.id)
                    .where(ContactTag.contact_id == contact_id)
                )
            )
            custom = sorted(
                (
                    name,
                    repr((v.value_text, v.value_number, v.value_date, v.value_bool, v.value_json)),
                )
                for name, v in db.session.execute(
                    select(CustomField.name, CustomFieldValue)
                    .join(CustomFieldValue, CustomFieldValue.field_id == CustomField.id)
                    .where(CustomFieldValue.contact_id == contact_id)
                )
            )
            lists = sorted(
                (m.list_id, m.status, m.added_at, m.updated_at)
                for m in db.session.scalars(
                    select(ListMembership).where(ListMembership.contact_id == contact_id)
                )
            )
            activities = sorted(
                db.session.scalars(
                    select(Activity.id).where(
                        Activity.contact_id == contact_id, Activity.kind != "merge"
                    )
                )
            )
            deals = sorted(db.session.scalars(select(Deal.id).where(Deal.contact_id == contact_id)))
            return {
                "columns": columns,
                "tags": tags,
                "custom": custom,
                "lists": lists,
                "activities": activities,
                "deals": deals,
            }

    return state


@pytest.fixture
def people(app, api, custom_field):
    """Bob (older, a few things) and Robert (newer, more things), and Carol who was
    referred by Robert and reports to him; three lists; a deal of Robert's."""
    member = api("member")
    custom_field("size", "number", label="Size")
    custom_field("skills", "multiselect", label="Skills", options=["python", "go", "rust"])
    lists = {}
    for name in ("Newsletter", "Promotions", "Events"):
        lists[name] = member.post("/api/v1/lists", json={"name": name}).json["id"]
    bob = member.post(
        "/api/v1/contacts",
        json={
            "email": "bob@acme.com",
            "first_name": "Bob",
            "last_name": "Smith",
            "phone": "+33612345678",
            "secondary_emails": ["bob@old.com"],
            "tags": ["vip"],
            "custom_fields": {"size": 10, "skills": ["python"]},
        },
    ).json["id"]
    robert = member.post(
        "/api/v1/contacts",
        json={
            "email": "robert.smith@gmail.com",
            "first_name": "Robert",
            "last_name": "Smith",
            "job_title": "CTO",
            "mobile_phone": "+33699999999",
            "tags": ["Paris", "VIP"],
            "custom_fields": {"size": 50, "skills": ["go"]},
        },
    ).json["id"]
    carol = member.post(
        "/api/v1/contacts",
        json={
            "email": "carol@acme.com",
            "referred_by": "robert.smith@gmail.com",
            "reports_to": robert,
        },
    ).json["id"]

    def on_list(name, contact_id, status):
        r = member.post(
            f"/api/v1/lists/{lists[name]}/members",
            json={"contact_ids": [contact_id], "status": status},
        )
        assert r.status_code == 200, r.json

    on_list("Newsletter", bob, "pending")
    on_list("Newsletter", robert, "subscribed")
    on_list("Promotions", robert, "unsubscribed")
    on_list("Events", bob, "subscribed")
    on_list("Events", robert, "unsubscribed")  # later than Bob's subscription

    def activity(contact_id, kind, when, subject):
        r = member.post(
            f"/api/v1/contacts/{contact_id}/activities",
            json={"kind": kind, "occurred_at": when, "subject": subject},
        )
        assert r.status_code == 201, r.json
        return r.json["id"]

    acts = {
        "bob_email": activity(bob, "email_sent", "2024-01-10T09:00:00Z", "Hello Bob"),
        "robert_call": activity(robert, "call", "2024-03-01T10:00:00Z", "Call Robert"),
        "robert_note": activity(robert, "note", "2024-02-01T10:00:00Z", "Met at fair"),
    }
    with app.app_context():
        from app.contacts.models import Contact
        from app.pipeline.models import Deal, Stage

        # Bob was entered last year; Robert is the recently updated record.
        db.session.execute(
            update(Contact)
            .where(Contact.id == bob)
            .values(created_at=datetime(2024, 1, 1), updated_at=datetime(2024, 1, 2))
        )

        stage = db.session.scalars(select(Stage).order_by(Stage.position)).first()
        deal = Deal(title="Big deal", stage_id=stage.id, contact_id=robert)
        db.session.add(deal)
        db.session.commit()
        deal_id = deal.id
    return {
        "bob": bob,
        "robert": robert,
        "carol": carol,
        "lists": lists,
        "acts": acts,
        "deal": deal_id,
    }
