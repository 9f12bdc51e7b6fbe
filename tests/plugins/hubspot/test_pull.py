"""Pulling HubSpot contacts: the first full listing, then incremental rounds through the
search API (including its 10,000-result window) and archived contacts as deletions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import plugins.hubspot as hubspot
from app.integrations.http import NeedsReconnect, ProviderError

from .hubspot_fake import RATE_LIMITED

SETTINGS = {"push_changes": True}
LONG_AGO = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def pull_all(http, cursor=None, limit=200):
    """Run pull_contacts page by page like the sync does; answer (records, cursor, pages)."""
    records, pages = [], 0
    while True:
        page = hubspot.pull_contacts(http, cursor, SETTINGS)
        records += page["contacts"]
        cursor = page["cursor"]
        pages += 1
        if not page["more"]:
            return records, cursor, pages
        assert pages < limit, "the sync never ended"


def seed(portal, count, at=LONG_AGO):
    return [
        portal.add(f"person{i}@example.com", at=at + timedelta(seconds=i), firstname=f"P{i}")
        for i in range(count)
    ]


def test_a_first_sync_lists_every_contact_page_by_page(portal, http):
    ids = seed(portal, 250)
    records, _, _ = pull_all(http)
    assert sorted(r["remote_id"] for r in records) == sorted(ids)
    calls = portal.calls("")
    assert len(calls) == 3  # 100 + 100 + 50, following paging.next.after
    assert [c.arg("limit") for c in calls] == ["100"] * 3
    assert calls[0].arg("after") is None
    assert calls[1].arg("after") and calls[2].arg("after")
    wanted = set(calls[0].arg("properties").split(","))
    assert {"email", "firstname", "lastname", "jobtitle", "company", "phone"} <= wanted
    assert {"mobilephone", "lastmodifieddate"} <= wanted
    assert not portal.calls("/search")


def test_maps_hubspot_properties_to_contact_fields(portal, http):
    contact_id = portal.add(
        "ada@example.com",
        at=LONG_AGO,
        firstname="Ada",
        lastname="Lovelace",
        jobtitle="Analyst",
        company="Engines Ltd",
        phone="+44 20 7946 0000",
        mobilephone="+44 7700 900000",
        website="https://engines.example",
    )
    (record,) = pull_all(http)[0]
    assert record == {
        "remote_id": contact_id,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "job_title": "Analyst",
        "company": "Engines Ltd",
        "phone": "+44 20 7946 0000",
        "mobile_phone": "+44 7700 900000",
        "website": "https://engines.example",
        "remote_updated_at": "2024-03-01T09:30:00.000Z",
        "deleted": False,
    }


def test_contacts_without_an_email_address_are_skipped(portal, http):
    kept = portal.add("kept@example.com", at=LONG_AGO)
    portal.add(None, at=LONG_AGO, firstname="Walk-in")
    portal.add("", at=LONG_AGO, firstname="Blank")
    records, _, _ = pull_all(http)
    assert [r["remote_id"] for r in records] == [kept]


def test_an_interrupted_first_sync_resumes_where_it_stopped(portal, http):
    ids = seed(portal, 230)
    first = hubspot.pull_contacts(http, None, SETTINGS)
    assert first["more"]
    # The sync is killed here; the next run starts from the cursor saved with page one.
    rest, _, pages = pull_all(http, first["cursor"])
    got = [r["remote_id"] for r in first["contacts"] + rest]
    assert sorted(got) == sorted(ids) and len(got) == len(set(got))
    assert pages == 2


def test_later_syncs_fetch_only_what_changed(portal, http):
    ids = seed(portal, 120)
    _, cursor, _ = pull_all(http)
    listed = len(portal.calls(""))
    portal.change(ids[5], jobtitle="CTO")
    portal.change(ids[77], lastname="Hopper")
    new = portal.add("new@example.com", firstname="Newcomer")
    records, cursor, _ = pull_all(http, cursor)
    assert sorted(r["remote_id"] for r in records) == sorted([ids[5], ids[77], new])
    assert {r["remote_id"]: r.get("job_title") for r in records}[ids[5]] == "CTO"
    # No full listing again: one search, then the archived list for deletions.
    assert [c.arg("archived") for c in portal.calls("")[listed:]] == ["true"]
    (search,) = portal.calls("/search")
    query = search.json
    (group,) = query["filterGroups"]
    (condition,) = group["filters"]
    assert (condition["propertyName"], condition["operator"]) == ("lastmodifieddate", "GTE")
    assert query["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert query["limit"] == 100
    # Nothing changed since: the next round brings back no older contact.
    again, _, _ = pull_all(http, cursor)
    assert {r["remote_id"] for r in again} <= {ids[5], ids[77], new}


def test_an_incremental_round_pages_with_after(portal, http):
    _, cursor, _ = pull_all(http)
    ids = [portal.add(f"fresh{i}@example.com") for i in range(230)]
    records, _, _ = pull_all(http, cursor)
    assert sorted(r["remote_id"] for r in records) == sorted(ids)
    afters = [c.json.get("after") for c in portal.calls("/search")]
    assert afters == [None, "100", "200"]


def test_a_round_past_the_search_window_restarts_from_the_last_change(portal, http):
    _, cursor, _ = pull_all(http)
    ids = [portal.add(f"bulk{i}@example.com") for i in range(10_050)]
    records, _, _ = pull_all(http, cursor)
    assert {r["remote_id"] for r in records} == set(ids)
    searches = [c.json for c in portal.calls("/search")]
    # No page asked past 10,000 results (HubSpot answers those with a 400) ...
    assert all(int(q.get("after") or 0) + q["limit"] <= 10_000 for q in searches)
    # ... the query started over from the last record read, without an `after`.
    marks = [int(q["filterGroups"][0]["filters"][0]["value"]) for q in searches]
    restart = marks.index(max(marks))
    assert restart == 100 and "after" not in searches[restart]
    last_read = portal.contacts[ids[9_999]]["properties"]["lastmodifieddate"]
    assert max(marks) == int(datetime.fromisoformat(last_read).timestamp() * 1000)


def test_contacts_archived_since_the_last_round_are_reported_deleted(portal, http):
    ids = seed(portal, 5)
    portal.archive(ids[0], at=LONG_AGO + timedelta(days=1))  # before the first sync
    records, cursor, _ = pull_all(http)
    assert ids[0] not in {r["remote_id"] for r in records}
    portal.archive(ids[3])
    records, _, _ = pull_all(http, cursor)
    assert [(r["remote_id"], r["deleted"]) for r in records] == [(ids[3], True)]
    assert [c.arg("archived") for c in portal.calls("")][-1] == "true"


def test_rate_limits_are_waited_out(portal, http, waits):
    ids = seed(portal, 3)
    portal.fail_next = [RATE_LIMITED, RATE_LIMITED]
    records, _, _ = pull_all(http)
    assert sorted(r["remote_id"] for r in records) == sorted(ids)
    assert waits == [3.0, 3.0]


def test_a_search_that_stays_rate_limited_fails_with_the_wait_asked(portal, http, waits):
    _, cursor, _ = pull_all(http)
    portal.fail_next = [RATE_LIMITED] * 10
    with pytest.raises(ProviderError) as raised:
        pull_all(http, cursor)
    assert (raised.value.status, raised.value.retry_after) == (429, 3.0)


def test_an_expired_token_stops_the_sync_for_reconnecting(portal, http):
    seed(portal, 3)
    portal.expired = True
    with pytest.raises(NeedsReconnect) as raised:
        pull_all(http)
    assert raised.value.status == 401
    assert "expired" in raised.value.message
