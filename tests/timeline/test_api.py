"""PATCH and DELETE /api/v1/activities/{id}: the same rules as the pages (author or admin,
hand-logged kinds edited, Kontor's own history kept), JSON errors naming the field, and
the contact's dates recomputed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from tests.timeline.conftest import activities_of, contact_row


def _log(auth, cid: int, kind: str, **form) -> int:
    assert auth.post(f"/timeline/contacts/{cid}/log/{kind}", form).status_code == 303
    return max(a.id for a in activities_of(auth.client.application, cid))


def test_patch_edits_what_is_sent_and_leaves_the_rest(app, auth, api, make_contact):
    boss = make_contact(email="boss@acme.com", first_name="Big")
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    call = _log(auth, cid, "call", outcome="connected", duration="4", body="hello",
                occurred_at="2024-03-01T10:15")  # fmt: skip
    meeting = _log(auth, cid, "meeting", occurred_at="2024-03-02T09:00", subject="Demo")
    task = _log(auth, cid, "task", subject="Quote", due="2031-01-01")
    auth.logout()

    response = api("member").patch(
        f"/api/v1/activities/{call}", json={"outcome": "busy", "duration_minutes": 9}
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["data"] == {"direction": "out", "outcome": "busy", "duration_minutes": 9}
    assert body["body"] == "hello" and body["occurred_at"] == "2024-03-01T10:15:00Z"
    assert body["updated_at"] is not None
    # Moving the call back moves "last contacted" back (to the meeting, now the latest).
    moved = api("member").patch(
        f"/api/v1/activities/{call}", json={"occurred_at": "2024-02-01T08:00:00+01:00"}
    )
    assert moved.json["occurred_at"] == "2024-02-01T07:00:00Z"
    assert contact_row(app, cid).last_contacted_at == datetime(2024, 3, 2, 9)
    attendees = api("member").patch(f"/api/v1/activities/{meeting}", json={"attendees": [boss]})
    assert attendees.json["data"] == {"attendees": [boss]} and attendees.json["subject"] == "Demo"
    done = api("member").patch(f"/api/v1/activities/{task}", json={"done": True, "body": "sent"})
    assert done.json["completed_at"] is not None and done.json["body"] == "sent"
    assert done.json["due_at"] == "2031-01-01T00:00:00Z"
    with app.app_context():
        vias = set(
            db.session.scalars(
                select(AuditEntry.via).where(
                    AuditEntry.entity_type == "activity", AuditEntry.action != "create"
                )
            )
        )
    assert vias == {"api"}


def test_patch_refuses_bad_input_naming_the_field(app, auth, api, make_contact):
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    call = _log(auth, cid, "call", outcome="connected")
    note = _log(auth, cid, "note", body="n")
    auth.logout()
    cases = [
        (call, {"outcome": "great"}, "outcome"),
        (call, {"duration_minutes": "ten"}, "duration_minutes"),
        (call, {"duration_minutes": 5000}, "duration_minutes"),
        (call, {"subject": "x"}, "subject"),  # a call has no subject here
        (note, {"body": None}, "body"),
        (note, {"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        (note, {"done": True}, "done"),
    ]
    for aid, payload, field in cases:
        response = api("member").patch(f"/api/v1/activities/{aid}", json=payload)
        assert response.status_code == 422, (payload, response.json)
        assert response.json["error"]["field"] == field, (payload, response.json)
    bad = api("member").patch(f"/api/v1/activities/{call}", data="nope")
    assert bad.status_code == 400
    assert [a.updated_at for a in activities_of(app, cid)] == [None, None]
    assert api("member").patch("/api/v1/activities/999999", json={}).status_code == 404


def test_only_the_author_or_an_admin_and_history_is_kept(
    app, auth, api, make_contact, add_activities
):
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    note = _log(auth, cid, "note", body="mine")
    auth.logout()
    (by_admin,) = add_activities(cid, [{"kind": "email_sent", "subject": "x"}], role="admin")
    (event,) = add_activities(cid, [{"kind": "custom_event", "name": "visit"}])
    with app.app_context():
        from app.timeline.models import Activity

        db.session.add(Activity(contact_id=cid, kind="merge", subject="merged"))
        db.session.commit()
    merge = max(a.id for a in activities_of(app, cid) if a.kind == "merge")
    assert api("viewer").patch(f"/api/v1/activities/{note}", json={"body": "x"}).status_code == 403
    assert api("viewer").delete(f"/api/v1/activities/{note}").status_code == 403
    assert api("member").delete(f"/api/v1/activities/{by_admin}").status_code == 403
    refused = api("member").patch(f"/api/v1/activities/{event}", json={"body": "x"})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert api("admin").delete(f"/api/v1/activities/{merge}").status_code == 403
    assert (
        api("admin").patch(f"/api/v1/activities/{note}", json={"body": "edited"}).status_code == 200
    )
    assert api("member").delete(f"/api/v1/activities/{event}").status_code == 204
    assert api("admin").delete(f"/api/v1/activities/{note}").status_code == 204
    assert sorted(a.kind for a in activities_of(app, cid)) == ["email_sent", "merge"]
    assert api("admin").delete(f"/api/v1/activities/{note}").status_code == 404
    # The timeline read through the API shows what is left.
    listed = api("viewer").get(f"/api/v1/contacts/{cid}/activities?kind=merge,email_sent").json
    assert [a["kind"] for a in listed["data"]] == ["merge", "email_sent"]
