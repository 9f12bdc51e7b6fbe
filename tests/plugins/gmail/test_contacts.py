"""pull_contacts against a fake People API: full listing, sync tokens, deletions."""

from __future__ import annotations

import pytest

import plugins.gmail as gmail
from app.integrations.http import ProviderError

from .conftest import drain, person
from .google_fake import PEOPLE

CONNECTIONS = PEOPLE + "v1/people/me/connections"


@pytest.fixture
def address_book(google):
    google.page_cap = 2
    google.put_person(
        person(
            1,
            "ann.lee@acme.example",
            "ann@home.example",
            given="Ann",
            family="Lee",
            phones=[
                {"value": "06 12 34 56 78", "canonicalForm": "+33612345678", "type": "mobile"},
                {"value": "+1 650-253-0000", "type": "work"},
            ],
            organizations=[
                {"name": "Old Corp", "title": "Intern", "current": False},
                {"name": "Acme", "title": "CTO", "department": "R&D", "current": True},
            ],
            urls=["https://acme.example", "linkedin.com/in/annlee"],
            updated="2024-05-02T09:30:15.123456789Z",
        )
    )
    google.put_person(person(2, given="Bob", family="NoMail"))
    google.put_person(person(3, "carl@beta.example", given="Carl"))
    return google


def test_full_sync_pages_through_every_contact_with_an_email(http, address_book):
    records, cursor, pages = drain(gmail.pull_contacts, http=http)

    assert [r["remote_id"] for r in records] == ["people/c1", "people/c3"]  # Bob has no email
    ann = records[0]
    assert ann["email"] == "ann.lee@acme.example"
    assert ann["secondary_emails"] == ["ann@home.example"]
    assert (ann["first_name"], ann["last_name"]) == ("Ann", "Lee")
    assert ann["mobile_phone"] == "+33612345678"
    assert ann["phone"] == "+16502530000"
    assert (ann["company"], ann["job_title"], ann["department"]) == ("Acme", "CTO", "R&D")
    assert ann["linkedin_url"] == "https://linkedin.com/in/annlee"
    assert ann["remote_updated_at"] == "2024-05-02T09:30:15.123456Z"
    assert ann["deleted"] is False
    assert records[1] == {
        "remote_id": "people/c3",
        "email": "carl@beta.example",
        "secondary_emails": [],
        "first_name": "Carl",
        "remote_updated_at": "2024-05-02T09:30:15.123456Z",
        "deleted": False,
    }

    calls = address_book.fake.calls_to(CONNECTIONS)
    assert pages == len(calls) == 2
    assert calls[0].arg("pageToken") is None and calls[1].arg("pageToken")
    for call in calls:
        assert call.arg("requestSyncToken") == "true" and call.arg("syncToken") is None
        assert set(call.arg("personFields").split(",")) >= {
            "names",
            "emailAddresses",
            "phoneNumbers",
            "organizations",
            "urls",
            "metadata",
        }
    assert set(cursor) == {"sync"} and cursor["sync"] in address_book.sync_tokens


def test_incremental_sync_sends_the_sync_token_and_gets_only_changes(http, address_book):
    _, cursor, _ = drain(gmail.pull_contacts, http=http)
    address_book.put_person(person(3, "carl@beta.example", given="Carl", family="Berg"))
    address_book.put_person(person(4, "dee@gamma.example", given="Dee"))

    records, following, _ = drain(gmail.pull_contacts, http=http, cursor=cursor)

    assert [(r["remote_id"], r.get("last_name")) for r in records] == [
        ("people/c3", "Berg"),
        ("people/c4", None),
    ]
    call = address_book.fake.calls_to(CONNECTIONS)[2]
    assert call.arg("syncToken") == cursor["sync"]
    assert following["sync"] != cursor["sync"]

    again, _, _ = drain(gmail.pull_contacts, http=http, cursor=following)
    assert again == []


def test_incremental_pages_repeat_the_sync_token(http, address_book):
    _, cursor, _ = drain(gmail.pull_contacts, http=http)
    for n in range(5, 10):
        address_book.put_person(person(n, f"p{n}@example.org"))

    records, following, pages = drain(gmail.pull_contacts, http=http, cursor=cursor)

    assert [r["email"] for r in records] == [f"p{n}@example.org" for n in range(5, 10)]
    assert pages == 3
    later = address_book.fake.calls_to(CONNECTIONS)[2:]
    assert all(c.arg("syncToken") == cursor["sync"] for c in later)
    assert following["sync"] in address_book.sync_tokens


def test_a_deleted_contact_comes_as_deleted(http, address_book):
    _, cursor, _ = drain(gmail.pull_contacts, http=http)
    address_book.delete_person("people/c1")

    records, _, _ = drain(gmail.pull_contacts, http=http, cursor=cursor)

    assert len(records) == 1
    assert records[0]["remote_id"] == "people/c1" and records[0]["deleted"] is True
    assert "email" not in records[0]


@pytest.mark.parametrize("status", [410, 400])
def test_an_expired_sync_token_restarts_a_full_sync(http, address_book, status):
    _, cursor, _ = drain(gmail.pull_contacts, http=http)
    address_book.expired_status = status
    address_book.expire_sync_tokens()

    records, following, _ = drain(gmail.pull_contacts, http=http, cursor=cursor)

    assert [r["remote_id"] for r in records] == ["people/c1", "people/c3"]
    calls = address_book.fake.calls_to(CONNECTIONS)[2:]
    assert calls[0].arg("syncToken") == cursor["sync"]
    assert all(c.arg("syncToken") is None for c in calls[1:])
    assert following["sync"] in address_book.sync_tokens


def test_other_errors_are_not_taken_for_an_expired_token(http, address_book):
    _, cursor, _ = drain(gmail.pull_contacts, http=http)
    address_book.fail_next.append(
        (400, {"error": {"code": 400, "message": "Invalid personFields", "status": "x"}})
    )

    with pytest.raises(ProviderError) as caught:
        gmail.pull_contacts(http=http, cursor=cursor)
    assert caught.value.status == 400


def test_a_phone_without_a_country_is_left_out_not_the_contact(http, google):
    google.put_person(
        person(7, "eve@example.org", phones=[{"value": "0612345678", "type": "mobile"}])
    )

    records, _, _ = drain(gmail.pull_contacts, http=http)

    assert records[0]["email"] == "eve@example.org"
    assert "mobile_phone" not in records[0] and "phone" not in records[0]
