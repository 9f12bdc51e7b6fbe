"""Activity ingestion through the API: one or a batch, idempotent by external_id,
all or nothing, moving the contact's last activity / last contacted dates forward."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.extensions import db

BATCH = "/api/v1/activities/batch"


def _contact(api, email: str) -> int:
    response = api("member").post("/api/v1/contacts", json={"email": email})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _timeline(api, contact_id: int, **args) -> list[dict]:
    response = api("viewer").get(f"/api/v1/contacts/{contact_id}/activities", query_string=args)
    assert response.status_code == 200, response.json
    return response.json["data"]


def _get(api, contact_id: int) -> dict:
    return api("viewer").get(f"/api/v1/contacts/{contact_id}").json


def test_one_activity_is_added_and_moves_the_contact_dates(api, users):
    cid = _contact(api, "ann@example.com")
    response = api("member").post(
        f"/api/v1/contacts/{cid}/activities",
        json={
            "kind": "email_sent",
            "occurred_at": "2024-05-01T10:00:00+02:00",
            "subject": "  Hello  ",
            "data": {"campaign": "spring"},
        },
    )
    assert response.status_code == 201, response.json
    activity = response.json
    assert activity["contact_id"] == cid
    assert activity["kind"] == "email_sent"
    assert activity["occurred_at"] == "2024-05-01T08:00:00Z"
    assert activity["subject"] == "Hello"
    assert activity["data"] == {"campaign": "spring"}
    assert activity["source"] == "api"
    assert activity["user_id"] == users["member"].id
    contact = _get(api, cid)
    assert contact["last_activity_at"] == "2024-05-01T08:00:00Z"
    assert contact["last_contacted_at"] == "2024-05-01T08:00:00Z"

    # A note is activity but not contact; an older activity moves nothing back.
    api("member").post(
        f"/api/v1/contacts/{cid}/activities",
        json={"kind": "note", "occurred_at": "2024-06-01T00:00:00Z", "body": "Called back?"},
    )
    api("member").post(
        f"/api/v1/contacts/{cid}/activities",
        json={"kind": "call", "occurred_at": "2024-01-01T00:00:00Z"},
    )
    contact = _get(api, cid)
    assert contact["last_activity_at"] == "2024-06-01T00:00:00Z"
    assert contact["last_contacted_at"] == "2024-05-01T08:00:00Z"
    kinds = [a["kind"] for a in _timeline(api, cid)]
    assert kinds == ["note", "email_sent", "call"]  # newest first


def test_occurred_at_defaults_to_now_and_custom_events_carry_name_and_value(api):
    cid = _contact(api, "bob@example.com")
    response = api("member").post(
        f"/api/v1/contacts/{cid}/activities",
        json={"kind": "custom_event", "name": " purchase ", "value": 49.5},
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "purchase"
    assert response.json["value"] == 49.5
    assert _get(api, cid)["last_activity_at"] == response.json["occurred_at"]
    assert _get(api, cid)["last_contacted_at"] is None


def test_same_external_id_returns_the_stored_activity(api):
    cid = _contact(api, "cat@example.com")
    path = f"/api/v1/contacts/{cid}/activities"
    first = api("member").post(path, json={"kind": "meeting", "external_id": "cal-1"})
    again = api("member").post(
        path, json={"kind": "meeting", "external_id": "cal-1", "subject": "changed"}
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert again.json["subject"] is None
    assert len(_timeline(api, cid)) == 1


def test_single_route_validation_names_the_field_and_changes_nothing(api):
    cid = _contact(api, "dan@example.com")
    path = f"/api/v1/contacts/{cid}/activities"
    cases = [
        ({"kind": "tweet"}, "kind", 'Unknown activity kind "tweet".'),
        ({}, "kind", "A kind is required."),
        ({"kind": "note", "occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"kind": "note", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at", "future"),
        ({"kind": "note", "data": ["a"]}, "data", "JSON object"),
        ({"kind": "note", "data": {"x": "y" * 20_000}}, "data", "bytes"),
        ({"kind": "note", "subject": 5}, "subject", "string"),
        ({"kind": "note", "external_id": "x" * 256}, "external_id", "255"),
        ({"kind": "custom_event"}, "name", "needs a name"),
        ({"kind": "custom_event", "name": "x" * 101}, "name", "100"),
        ({"kind": "custom_event", "name": "buy", "value": "12"}, "value", "number"),
        ({"kind": "custom_event", "name": "buy", "value": True}, "value", "number"),
        ({"kind": "note", "value": 3}, "value", "custom_event"),
        ({"kind": "note", "contact_id": cid}, "contact_id", "Unknown field"),
        ({"kind": "note", "colour": "red"}, "colour", "Unknown field"),
    ]
    for body, field, text in cases:
        response = api("member").post(path, json=body)
        assert response.status_code == 422, (body, response.json)
        error = response.json["error"]
        assert error["field"] == field, (body, error)
        assert text in error["fields"][field], (body, error)
        assert error["message"].startswith(f"{field}: ")
    # Not-finite numbers (JSON allows NaN through Python's parser) are refused too.
    for raw in ('{"kind": "custom_event", "name": "buy", "value": NaN}',
                '{"kind": "note", "data": {"x": Infinity}}'):  # fmt: skip
        response = api("member").post(path, data=raw, content_type="application/json")
        assert response.status_code == 422, response.json
        assert "finite" in response.json["error"]["message"]
    assert _timeline(api, cid) == []
    assert _get(api, cid)["last_activity_at"] is None


def test_unknown_contact_and_roles(api):
    response = api("member").post("/api/v1/contacts/999/activities", json={"kind": "note"})
    assert response.status_code == 404
    cid = _contact(api, "eve@example.com")
    response = api("viewer").post(f"/api/v1/contacts/{cid}/activities", json={"kind": "note"})
    assert response.status_code == 403
    response = api("viewer").post(BATCH, json={"activities": [{"contact_id": cid, "kind": "note"}]})
    assert response.status_code == 403
    assert _timeline(api, cid) == []
    assert api("viewer").get("/api/v1/contacts/999/activities").status_code == 404


def test_batch_by_id_and_email_with_repeated_external_ids(api, app):
    ann = _contact(api, "ann@example.com")
    bob = _contact(api, "bob@example.com")
    items = [
        {"contact_id": ann, "kind": "email_opened", "occurred_at": "2024-03-01T00:00:00Z"},
        {"email": "BOB@Example.com", "kind": "call", "external_id": "call-7",
         "occurred_at": "2024-03-02T00:00:00Z"},
        {"email": "bob@example.com", "kind": "call", "external_id": "call-7"},
        {"contact_id": ann, "kind": "custom_event", "name": "purchase", "value": 10,
         "external_id": "order-1", "occurred_at": "2024-03-03T00:00:00Z"},
    ]  # fmt: skip
    response = api("member").post(BATCH, json={"activities": items})
    assert response.status_code == 200, response.json
    body = response.json
    assert [r["status"] for r in body["data"]] == ["created", "created", "existing", "created"]
    assert [r["index"] for r in body["data"]] == [0, 1, 2, 3]
    assert (body["created"], body["existing"]) == (3, 1)
    assert body["data"][2]["id"] == body["data"][1]["id"]
    assert body["data"][1]["activity"]["contact_id"] == bob
    assert body["data"][3]["activity"]["value"] == 10

    assert _get(api, ann)["last_activity_at"] == "2024-03-03T00:00:00Z"
    assert _get(api, ann)["last_contacted_at"] is None
    assert _get(api, bob)["last_contacted_at"] == "2024-03-02T00:00:00Z"

    # Sending the batch again adds nothing: items with an external_id are found again,
    # the one without is new.
    again = api("member").post(BATCH, json={"activities": items}).json
    assert [r["status"] for r in again["data"]] == ["created", "existing", "existing", "existing"]
    assert again["data"][3]["id"] == body["data"][3]["id"]
    assert len(_timeline(api, bob)) == 1
    assert len(_timeline(api, ann)) == 3

    # One audit entry per request, not per activity.
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "activity")
        ).all()
        assert len(entries) == 2
        assert entries[0].changes["created"] == 3


def test_batch_is_all_or_nothing(api):
    ann = _contact(api, "ann@example.com")
    items = [
        {"contact_id": ann, "kind": "note", "external_id": "n-1"},
        {"contact_id": ann, "kind": "tweet"},
        {"email": "nobody@example.com", "kind": "note"},
        {"contact_id": 424242, "kind": "note"},
        {"kind": "note"},
        {"contact_id": ann, "email": "ann@example.com", "kind": "note"},
        "not an object",
        {"contact_id": ann, "kind": "custom_event", "value": 3},
    ]
    response = api("member").post(BATCH, json={"activities": items})
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["field"] == "activities[1].kind"
    assert error["message"] == 'activities[1].kind: Unknown activity kind "tweet".'
    # Shape errors are all reported together; unknown contacts are checked once the
    # shapes are valid.
    assert set(error["fields"]) == {
        "activities[1].kind",
        "activities[4].contact_id",
        "activities[5].email",
        "activities[6]",
        "activities[7].name",
    }
    assert _timeline(api, ann) == []

    items = [
        {"contact_id": ann, "kind": "note", "external_id": "n-1"},
        {"email": "nobody@example.com", "kind": "note"},
        {"contact_id": 424242, "kind": "note"},
    ]
    response = api("member").post(BATCH, json={"activities": items})
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert fields == {
        "activities[1].email": "No contact has the email nobody@example.com.",
        "activities[2].contact_id": "No contact with id 424242.",
    }
    assert _timeline(api, ann) == []
    assert _get(api, ann)["last_activity_at"] is None


def test_batch_shape_and_limit(api):
    cid = _contact(api, "ann@example.com")
    assert api("member").post(BATCH, json={"items": []}).status_code == 400
    response = api("member").post(BATCH, json={"activities": [], "extra": 1})
    assert response.status_code == 422 and response.json["error"]["field"] == "extra"
    empty = api("member").post(BATCH, json={"activities": []})
    assert empty.status_code == 200 and empty.json == {"data": [], "created": 0, "existing": 0}
    too_many = [{"contact_id": cid, "kind": "note"}] * 1001
    response = api("member").post(BATCH, json={"activities": too_many})
    assert response.status_code == 413
    assert response.json["error"]["field"] == "activities"
    assert _timeline(api, cid) == []
    full = [
        {"contact_id": cid, "kind": "email_opened", "external_id": f"o-{i}"} for i in range(1000)
    ]
    response = api("member").post(BATCH, json={"activities": full})
    assert response.status_code == 200 and response.json["created"] == 1000


def test_concurrent_batches_with_the_same_external_ids_store_each_once(app, api, tokens):
    ann = _contact(api, "ann@example.com")
    items = [
        {"contact_id": ann, "kind": "email_opened", "external_id": f"open-{i}"} for i in range(50)
    ]
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def send(reverse: bool):
        client = app.test_client()
        barrier.wait()
        response = client.post(
            BATCH,
            json={"activities": items[::-1] if reverse else items},
            headers={"Authorization": f"Bearer {tokens['member']}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(i % 2 == 1,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    with app.app_context():
        from app.timeline.models import Activity

        stored = db.session.scalar(select(func.count()).select_from(Activity))
        distinct = db.session.scalar(select(func.count(func.distinct(Activity.external_id))))
    assert stored == distinct == 50


def test_timeline_pages_and_kind_filter(api):
    cid = _contact(api, "ann@example.com")
    items = [
        {"contact_id": cid, "kind": "note" if i % 2 else "call",
         "occurred_at": f"2024-01-{i + 1:02d}T12:00:00Z"}
        for i in range(7)
    ]  # fmt: skip
    api("member").post(BATCH, json={"activities": items})
    seen, cursor = [], None
    while True:
        args = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api("viewer").get(f"/api/v1/contacts/{cid}/activities", query_string=args).json
        seen += [a["occurred_at"][:10] for a in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"2024-01-{d:02d}" for d in range(7, 0, -1)]
    notes = _timeline(api, cid, kind="note")
    assert [a["kind"] for a in notes] == ["note"] * 3
    bad = api("viewer").get(f"/api/v1/contacts/{cid}/activities", query_string={"kind": "x"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "kind"
    bad = api("viewer").get(f"/api/v1/contacts/{cid}/activities", query_string={"cursor": "zz"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "cursor"
