"""Pushing Kontor contacts to HubSpot through the batch create and update endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import plugins.hubspot as hubspot
from app.integrations.http import NeedsReconnect

from .hubspot_fake import RATE_LIMITED

ON = {"push_changes": True}
LONG_AGO = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def contact(contact_id, email, remote_id=None, **fields):
    """A contact as the core hands it to push_contacts."""
    record = {
        "contact_id": contact_id,
        "remote_id": remote_id,
        "updated_at": "2026-01-05T10:00:00Z",
        "email": email,
        "first_name": None,
        "last_name": None,
        "job_title": None,
        "company": None,
        "phone": None,
        "mobile_phone": None,
    }
    return {**record, **fields}


def by_contact(answer):
    return {a["contact_id"]: a for a in answer}


def test_new_contacts_are_created_in_batches_of_100(portal, http):
    contacts = [contact(i, f"new{i}@example.com", first_name=f"N{i}") for i in range(1, 251)]
    answer = hubspot.push_contacts(http, contacts, ON)
    creates = portal.calls("/batch/create")
    assert [len(c.json["inputs"]) for c in creates] == [100, 100, 50]
    assert len(answer) == 250
    for item in answer:
        stored = portal.contacts[item["remote_id"]]
        assert stored["properties"]["email"] == f"new{item['contact_id']}@example.com"
        assert stored["properties"]["firstname"] == f"N{item['contact_id']}"
        assert item["remote_updated_at"] == stored["updatedAt"]
    # A create leaves out the fields Kontor has no value for.
    assert creates[0].json["inputs"][0]["properties"] == {
        "email": "new1@example.com",
        "firstname": "N1",
    }


def test_linked_contacts_are_updated_in_batches(portal, http):
    ids = [portal.add(f"p{i}@example.com", at=LONG_AGO, phone="+1 555 0100") for i in range(150)]
    contacts = [
        contact(i, f"p{i}@example.com", remote_id=rid, job_title="Buyer")
        for i, rid in enumerate(ids)
    ]
    answer = hubspot.push_contacts(http, contacts, ON)
    assert [len(c.json["inputs"]) for c in portal.calls("/batch/update")] == [100, 50]
    assert not portal.calls("/batch/create")
    assert {a["contact_id"]: a["remote_id"] for a in answer} == dict(enumerate(ids))
    stored = portal.contacts[ids[42]]
    assert stored["properties"]["jobtitle"] == "Buyer"
    # Kontor has no phone for them any more: the update clears HubSpot's.
    assert stored["properties"]["phone"] == ""
    assert by_contact(answer)[42]["remote_updated_at"] == stored["updatedAt"]
    assert not stored["updatedAt"].startswith("2024-03-01")  # HubSpot stamped the update


def test_creates_and_updates_go_in_one_push(portal, http):
    known = portal.add("known@example.com", at=LONG_AGO)
    answer = hubspot.push_contacts(
        http,
        [contact(1, "known@example.com", remote_id=known, last_name="Known"), contact(2, "b@x.io")],
        ON,
    )
    found = by_contact(answer)
    assert found[1]["remote_id"] == known
    assert portal.contacts[found[2]["remote_id"]]["properties"]["email"] == "b@x.io"
    assert portal.contacts[known]["properties"]["lastname"] == "Known"


def test_refused_contacts_get_their_own_error_and_the_rest_go_through(portal, http):
    gone = portal.add("gone@example.com", at=LONG_AGO)
    portal.archive(gone, at=LONG_AGO)
    kept = portal.add("kept@example.com", at=LONG_AGO)
    answer = hubspot.push_contacts(
        http,
        [
            contact(1, "fine@example.com"),
            contact(2, "not-an-address"),
            contact(3, "gone@example.com", remote_id=gone),
            contact(4, "kept@example.com", remote_id=kept, first_name="Kept"),
        ],
        ON,
    )
    found = by_contact(answer)
    assert found[1]["remote_id"] and "error" not in found[1]
    assert "INVALID_EMAIL" in found[2]["error"] and "remote_id" not in found[2]
    assert "Could not get some CONTACT objects" in found[3]["error"]
    assert found[4]["remote_id"] == kept
    assert portal.contacts[kept]["properties"]["firstname"] == "Kept"
    assert len(portal.calls("/batch/create")) == len(portal.calls("/batch/update")) == 1


def test_a_batch_hubspot_refuses_whole_is_split_to_find_the_bad_contact(portal, http):
    portal.multi_status = False  # one invalid value fails the whole batch with a 400
    contacts = [contact(i, f"ok{i}@example.com") for i in range(1, 9)]
    contacts[5] = contact(6, "broken")
    answer = hubspot.push_contacts(http, contacts, ON)
    found = by_contact(answer)
    assert "INVALID_EMAIL" in found[6]["error"]
    created = {c["properties"]["email"] for c in portal.contacts.values()}
    assert created == {f"ok{i}@example.com" for i in range(1, 9) if i != 6}
    assert all(found[i]["remote_id"] for i in found if i != 6)


@pytest.mark.parametrize("multi_status", [True, False])
def test_a_contact_already_in_hubspot_is_linked_not_duplicated(portal, http, multi_status):
    portal.multi_status = multi_status  # a 207 with a CONFLICT error, or a 409 for all
    existing = portal.add("Dup@Example.com", at=LONG_AGO, jobtitle="Old title")
    answer = hubspot.push_contacts(
        http,
        [
            contact(1, "first@example.com"),
            contact(2, "dup@example.com", job_title="New title"),
            contact(3, "third@example.com"),
        ],
        ON,
    )
    found = by_contact(answer)
    assert found[2]["remote_id"] == existing
    assert found[2]["remote_updated_at"] == portal.contacts[existing]["updatedAt"]
    assert portal.contacts[existing]["properties"]["jobtitle"] == "New title"
    assert found[1]["remote_id"] and found[3]["remote_id"]
    emails = sorted(c["properties"]["email"].lower() for c in portal.contacts.values())
    assert emails == ["dup@example.com", "first@example.com", "third@example.com"]


def test_a_single_duplicate_is_linked_from_the_conflict_message(portal, http):
    portal.multi_status = False
    existing = portal.add("solo@example.com", at=LONG_AGO)
    answer = hubspot.push_contacts(http, [contact(9, "solo@example.com")], ON)
    assert answer == [
        {
            "contact_id": 9,
            "remote_id": existing,
            "remote_updated_at": portal.contacts[existing]["updatedAt"],
        }
    ]
    assert not portal.fake.calls_to(f"/crm/v3/objects/contacts/{existing}")


def test_a_rate_limited_batch_is_sent_again(portal, http, waits):
    portal.fail_next = [RATE_LIMITED]
    answer = hubspot.push_contacts(http, [contact(1, "a@example.com")], ON)
    assert answer[0]["remote_id"]
    assert waits == [3.0]
    assert len(portal.contacts) == 1


def test_an_expired_token_stops_the_push_for_reconnecting(portal, http):
    portal.expired = True
    with pytest.raises(NeedsReconnect):
        hubspot.push_contacts(http, [contact(1, "a@example.com")], ON)


def test_nothing_is_sent_when_pushing_is_off(portal, http):
    answer = hubspot.push_contacts(http, [contact(1, "a@example.com")], {"push_changes": False})
    assert answer == []
    assert not portal.fake.calls
