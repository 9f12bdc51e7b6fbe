"""End to end: a Gmail account synced by Kontor's sync job into the database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.integrations.models import ContactLink
from app.integrations.sync import SyncFailed, sync_account

from .conftest import message, person
from .google_fake import GMAIL, ME, PEOPLE


@pytest.fixture
def connected(kontor_account, fake, google):
    def connect(**settings):
        return kontor_account(
            "gmail",
            fake.url + GMAIL,
            people_url=fake.url + PEOPLE,
            settings=settings or None,
        )

    return connect


def activities_of(email: str) -> list[tuple[str, str]]:
    from app.contacts.models import Contact
    from app.timeline.models import Activity

    rows = db.session.execute(
        select(Activity.kind, Activity.subject)
        .join(Contact, Contact.id == Activity.contact_id)
        .where(Contact.email == email, Activity.source == "gmail")
        .order_by(Activity.occurred_at)
    )
    return [tuple(r) for r in rows]


def contact(email: str):
    from app.contacts.models import Contact

    return db.session.scalar(select(Contact).where(Contact.email == email))


def test_a_sync_brings_contacts_and_mail_and_a_rerun_adds_nothing(connected, google):
    google.put_person(person(1, "Ann.Lee@acme.example", given="Ann", family="Lee"))
    google.put_person(person(2, given="No", family="Mail"))
    google.add_message(message(sender="Ann Lee <ann.lee@acme.example>", subject="Hi", days_ago=2))
    google.add_message(
        message(sender=ME, to="ann.lee@acme.example", subject="Re: Hi", labels=("SENT",))
    )
    google.add_message(message(sender="Bob Stone <bob@beta.example>", subject="Intro"))
    google.add_message(
        message(sender="news@shop.example", headers={"List-Unsubscribe": "<mailto:u@x>"})
    )
    account = connected(create_contacts=True)

    first = sync_account(account.id)

    assert account.label == ME
    ann = contact("ann.lee@acme.example")
    assert (ann.first_name, ann.last_name) == ("Ann", "Lee")
    assert activities_of("ann.lee@acme.example") == [
        ("email_received", "Hi"),
        ("email_sent", "Re: Hi"),
    ]
    assert contact("bob@beta.example").first_name == "Bob"  # a correspondent, created
    assert contact("news@shop.example") is None  # a mailing list never is
    assert first["activities"] == 3

    second = sync_account(account.id)

    assert second["activities"] == 0 and second["created"] == 0
    assert len(activities_of("ann.lee@acme.example")) == 2


def test_a_contact_deleted_at_google_is_unlinked(connected, google):
    google.put_person(person(1, "ann@acme.example", given="Ann"))
    account = connected()
    sync_account(account.id, ["contacts"])
    google.delete_person("people/c1")

    result = sync_account(account.id, ["contacts"])

    assert result["unlinked"] == 1
    assert contact("ann@acme.example") is not None  # Kontor keeps its contact
    live = select(func.count()).select_from(ContactLink).where(ContactLink.deleted_at.is_(None))
    assert db.session.scalar(live) == 0  # only a tombstone is left


def test_a_refused_token_marks_the_account(connected, google):
    account = connected()
    google.fail_next.append(
        (
            401,
            {"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}},
        )
    )

    with pytest.raises(SyncFailed):
        sync_account(account.id)

    assert account.status == "needs_reconnect"
