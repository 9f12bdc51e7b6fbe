"""Undoing a merge gives back both records exactly as they were, with their activities;
it is refused after 30 days, twice, or when the email now belongs to someone else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.extensions import db

# The survivor's version and updated_at move on: an undo is a change like any other.
MOVING = ("version", "updated_at")


def merge(api, survivor, other, **body):
    r = api("member").post(
        f"/api/v1/contacts/{survivor}/merge", json={"duplicate_id": other, **body}
    )
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_merge_then_undo_gives_back_both_records_exactly(api, people, contact_state, make_pair):
    bob, robert, carol = people["bob"], people["robert"], people["carol"]
    pair = make_pair(bob, robert, score=91, reasons=[{"code": "same_name"}])
    before_bob = contact_state(bob, skip=MOVING)
    before_robert = contact_state(robert)
    before_carol = contact_state(carol)
    merge_id = merge(api, bob, robert, fields={"email": "duplicate", "job_title": "duplicate"})
    assert contact_state(robert) is None
    assert contact_state(bob, skip=MOVING) != before_bob

    r = api("member").post(f"/api/v1/merges/{merge_id}/undo")
    assert r.status_code == 200, r.json
    assert r.json["undone_at"] is not None and r.json["restored"] == robert
    assert contact_state(robert) == before_robert  # every column, incl. version and dates
    assert contact_state(bob, skip=MOVING) == before_bob
    assert contact_state(carol) == before_carol  # referred by / reports to Robert again
    pairs = api("viewer").get("/api/v1/duplicates").json["data"]
    assert [(p["id"], p["a"], p["b"], p["score"]) for p in pairs] == [
        (pair, min(bob, robert), max(bob, robert), 91)
    ]
    timeline = api("viewer").get(f"/api/v1/contacts/{bob}/activities?kind=merge").json["data"]
    assert len(timeline) == 2  # the merge (marked undone) and the undo
    assert any(a["data"]["merge"].get("undone_at") for a in timeline)
    restored_timeline = api("viewer").get(f"/api/v1/contacts/{robert}/activities").json["data"]
    assert any(a["kind"] == "merge" and a["data"]["merge"].get("undo") for a in restored_timeline)


def test_undo_keeps_what_was_edited_on_the_survivor_after_the_merge(api, people):
    bob, robert = people["bob"], people["robert"]
    merge_id = merge(api, bob, robert)
    member = api("member")
    merged = member.get(f"/api/v1/contacts/{bob}").json
    assert merged["job_title"] == "CTO" and merged["first_name"] == "Robert"
    member.patch(f"/api/v1/contacts/{bob}", json={"job_title": "CEO"})
    assert member.post(f"/api/v1/merges/{merge_id}/undo").status_code == 200
    c = member.get(f"/api/v1/contacts/{bob}").json
    assert c["job_title"] == "CEO"  # edited since the merge: kept
    assert c["first_name"] == "Bob"  # still what the merge set: restored
    assert "robert.smith@gmail.com" not in (c["secondary_emails"] or [])


def test_undo_is_refused_after_30_days_and_only_once(app, api, people):
    bob, robert = people["bob"], people["robert"]
    first = merge(api, bob, robert)
    member = api("member")
    assert member.post(f"/api/v1/merges/{first}/undo").status_code == 200
    r = member.post(f"/api/v1/merges/{first}/undo")
    assert r.status_code == 409 and r.json["error"]["code"] == "undone"

    second = merge(api, bob, robert)
    with app.app_context():
        from app.dedupe.models import Merge
        from app.timeutil import utcnow

        db.session.execute(
            update(Merge)
            .where(Merge.id == second)
            .values(created_at=utcnow() - timedelta(days=30, minutes=1))
        )
        db.session.commit()
    r = member.post(f"/api/v1/merges/{second}/undo")
    assert r.status_code == 409 and r.json["error"]["code"] == "expired"
    assert "30 days" in r.json["error"]["message"]
    assert member.get(f"/api/v1/contacts/{robert}").status_code == 404
    assert member.get(f"/api/v1/merges/{second}").json["can_undo"] is False
    assert member.post("/api/v1/merges/999999/undo").status_code == 404
    assert api("viewer").post(f"/api/v1/merges/{first}/undo").status_code == 403


def test_undo_is_refused_while_the_email_belongs_to_a_new_contact(api, make_contact):
    a = make_contact(email="ann@example.com", first_name="Ann")
    b = make_contact(email="ann@old.example.com", first_name="Ann")
    merge_id = merge(api, a, b)
    c = make_contact(email="ann@old.example.com", first_name="Someone else")
    r = api("member").post(f"/api/v1/merges/{merge_id}/undo")
    assert r.status_code == 409 and r.json["error"]["code"] == "email_taken"
    assert r.json["error"]["contact_id"] == c
    assert api("member").get(f"/api/v1/contacts/{a}").json["secondary_emails"] == [
        "ann@old.example.com"
    ]


def test_undo_in_the_right_order_after_a_chain_of_merges(api, make_contact, contact_state):
    a = make_contact(email="a@example.com", first_name="Al")
    b = make_contact(email="b@example.com", last_name="Bee")
    c = make_contact(email="c@example.com", job_title="Boss")
    states = {i: contact_state(i, skip=MOVING) for i in (a, b, c)}
    first = merge(api, a, b)  # b into a
    second = merge(api, c, a)  # then a into c
    member = api("member")
    r = member.post(f"/api/v1/merges/{first}/undo")
    assert r.status_code == 409 and r.json["error"]["code"] == "gone"
    assert member.post(f"/api/v1/merges/{second}/undo").status_code == 200
    assert member.post(f"/api/v1/merges/{first}/undo").status_code == 200
    assert {i: contact_state(i, skip=MOVING) for i in (a, b, c)} == states


def test_undo_brings_back_the_activities_even_when_the_id_was_reused(
    api, make_contact, contact_state
):
    a = make_contact(email="a@example.com")
    b = make_contact(email="b@example.com")  # the highest id: SQLite may hand it out again
    member = api("member")
    member.post(
        f"/api/v1/contacts/{b}/activities",
        json={"kind": "call", "occurred_at": "2024-06-01T10:00:00Z", "subject": "Call B"},
    )
    before = contact_state(b, skip=("id",))
    merge_id = merge(api, a, b)
    newcomer = make_contact(email="new@example.com")
    r = member.post(f"/api/v1/merges/{merge_id}/undo")
    assert r.status_code == 200, r.json
    restored = r.json["restored"]
    assert restored != newcomer
    after = contact_state(restored, skip=("id",))
    assert after["columns"] == before["columns"]
    assert len(after["activities"]) == len(before["activities"]) == 1
    assert member.get(f"/api/v1/contacts/{newcomer}").json["email"] == "new@example.com"
    assert member.get(f"/api/v1/contacts/{a}").json["last_activity_at"] is None


def test_undo_from_the_merges_page(auth, client, api, make_contact):
    a = make_contact(email="a@example.com", first_name="Ann")
    b = make_contact(email="b@example.com", first_name="Anne")
    merge_id = merge(api, a, b)
    auth.login("member")
    page = client.get("/duplicates/merges")
    html = page.data.decode()
    assert f'id="merge-{merge_id}"' in html and "b@example.com" in html
    assert f"/duplicates/merges/{merge_id}/undo" in html
    r = auth.post(f"/duplicates/merges/{merge_id}/undo", htmx=True)
    assert r.status_code == 200
    body = r.data.decode()
    assert f'id="merge-{merge_id}"' in body and "Undone" in body
    assert "Merge undone" in body  # the flash
    assert api("viewer").get(f"/api/v1/contacts/{b}").json["first_name"] == "Anne"
    # full page: a redirect with a flash
    merge_id = merge(api, a, b)
    r = auth.post(f"/duplicates/merges/{merge_id}/undo")
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/contacts/{b}")
    r = auth.post(f"/duplicates/merges/{merge_id}/undo")
    assert r.status_code == 303  # refused: back with the reason
    assert "undone already" in client.get(r.headers["Location"]).data.decode()


def test_a_viewer_sees_merges_but_cannot_undo(auth, client, api, make_contact):
    a = make_contact(email="a@example.com")
    b = make_contact(email="b@example.com")
    merge_id = merge(api, a, b)
    auth.login("viewer")
    html = client.get("/duplicates/merges").data.decode()
    assert "b@example.com" in html and f"/merges/{merge_id}/undo" not in html
    assert auth.post(f"/duplicates/merges/{merge_id}/undo").status_code == 403


def test_undo_puts_the_suggestions_back_as_they_were(api, make_contact, make_pair):
    a = make_contact(email="a@example.com", first_name="Al")
    b = make_contact(email="b@example.com", first_name="Al")
    x = make_contact(email="x@example.com", first_name="Al")
    y = make_contact(email="y@example.com", first_name="Al")
    make_pair(a, b, score=95)
    make_pair(b, x, score=85)  # re-pointed to (a, x) by the merge
    make_pair(a, y, score=82)
    dismissed = make_pair(b, y, score=84)  # (a, y) exists: dropped, and (a, y) dismissed
    member = api("member")
    assert member.post(f"/api/v1/duplicates/{dismissed}/dismiss").status_code == 200

    def pairs():
        out = []
        for status in ("open", "dismissed"):
            data = api("viewer").get(f"/api/v1/duplicates?status={status}").json["data"]
            out += [(p["id"], p["a"], p["b"], p["score"], p["status"]) for p in data]
        return sorted(out)

    before = pairs()
    merge_id = merge(api, a, b)
    during = pairs()
    assert [(p[1], p[2], p[4]) for p in during] == sorted(
        [(a, x, "open"), (a, y, "dismissed")]
    )  # "not a duplicate" said of b and y holds for a and y
    assert member.post(f"/api/v1/merges/{merge_id}/undo").status_code == 200
    assert pairs() == before
