"""Export tests: shared data (contacts with a company, tags, lists, custom fields and
values a spreadsheet would run as formulas) and helpers to export through the pages."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import update

from app.contacts.models import Contact
from app.extensions import db

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def people(app, users) -> dict[str, int]:
    """Four contacts: ana (full), bob (formula-like and HTML values), carl (archived),
    dora (minimal); custom fields of every type; ana and carl on the list Newsletter."""
    from app.auth.models import User
    from app.contacts import bulk
    from app.contacts.models import CustomField
    from app.contacts.service import create_contact
    from app.lists.models import ContactList

    with app.app_context():
        for name, type_, options in (
            ("nickname", "text", None),
            ("size", "number", None),
            ("since", "date", None),
            ("vip", "boolean", None),
            ("plan", "select", ["Free", "Pro"]),
            ("interests", "multiselect", ["Golf", "Jazz", "Wine"]),
            ("meta", "json", None),
        ):
            db.session.add(CustomField(name=name, label=name.title(), type=type_, options=options))
        newsletter = ContactList(name="Newsletter")
        db.session.add(newsletter)
        db.session.commit()
        member = db.session.get(User, users["member"].id)
        bob = create_contact(
            {
                "email": "bob@example.com",
                "first_name": FORMULA_NAME,
                "last_name": "<b>Bold</b>",
                "phone": "+33 1 42 68 53 00",
                "custom.nickname": "@SUM(A1:A9)",
                "custom.size": -1,
                "tags": ["vip"],
            },
            actor=member,
            via="test",
        )
        ana = create_contact(
            {
                "email": "ana@example.com",
                "first_name": "Ana",
                "middle_name": "María",
                "last_name": "López; García",
                "secondary_emails": ["ana.lopez@example.org"],
                "phone": "+33 1 42 68 53 01",
                "mobile_phone": "+33 6 12 34 56 78",
                "company": "Acme, SA",
                "department": "Sales",
                "job_title": "Head of sales",
                "role": "decision_maker",
                "status": "active",
                "lifecycle": "customer",
                "lead_score": 80,
                "birthday": "1985-04-12",
                "address_line1": "12 rue de la Paix",
                "city": "Paris",
                "postcode": "75002",
                "country": "FR",
                "mailing_line1": "BP 42",
                "mailing_city": "Lyon",
                "mailing_country": "FR",
                "linkedin_url": "https://www.linkedin.com/in/ana",
                "twitter": "@ana",
                "reports_to": "bob@example.com",
                "comm_topics": ["news", "events"],
                "tags": ["vip", "Paris"],
                "custom.nickname": "Ani\nsecond line",
                "custom.size": 12.5,
                "custom.since": "2020-01-31",
                "custom.vip": True,
                "custom.plan": "Pro",
                "custom.interests": ["Wine", "Golf"],
                "custom.meta": {"a": [1, 2], "b": "é"},
            },
            actor=member,
            via="test",
        )
        carl = create_contact({"email": "carl@example.com", "first_name": "Carl"}, via="test")
        dora = create_contact({"email": "dora@example.com"}, via="test")
        db.session.flush()
        bulk.add_to_list([ana.id, carl.id], newsletter.id)
        bulk.archive([carl.id])
        # Forms strip leading whitespace; values from elsewhere may still start with it.
        db.session.execute(
            update(Contact.__table__)
            .where(Contact.id == bob.id)
            .values(job_title="\tx", department="\r=1+1")
        )
        db.session.commit()
        return {
            "ana": ana.id,
            "bob": bob.id,
            "carl": carl.id,
            "dora": dora.id,
            "list": newsletter.id,
        }


def export(auth, fmt: str = "csv", scope: str = "all", query: str = "", ids=()):
    """POST the contact list's export form, as the browser does."""
    data: dict[str, Any] = {"format": fmt, "scope": scope, "query": query}
    if ids:
        data["ids"] = [str(i) for i in ids]
    return auth.post("/exports/contacts", data=data)


def csv_rows(body: bytes) -> list[dict[str, str]]:
    """The rows of an exported CSV (which starts with a UTF-8 byte order mark)."""
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
