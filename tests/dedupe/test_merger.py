"""Merging moves everything to the survivor: activities, deals, list memberships (with
the consent-safe status rule), tags, custom values, relationships, other emails and
phones; it leaves a merge activity and an audit entry and keeps the dates true."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db


def members(api, list_id):
    data = api("viewer").get(f"/api/v1/lists/{list_id}/members").json["data"]
    return {m["contact_id"]: m["status"] for m in data}


def test_merge_through_the_api_moves_everything_to_the_survivor(app, api, people):
    bob, robert = people["bob"], people["robert"]
    roberts = api("viewer").get(f"/api/v1/contacts/{robert}/activities").json["data"]
    assert len(roberts) == 5  # a call, a note, three list changes
    r = api("member").post(f"/api/v1/contacts/{bob}/merge", json={"duplicate_id": robert})
    assert r.status_code == 201, r.json
    merge = r.json
    assert merge["survivor"] == bob and merge["merged"] == robert
    assert merge["undone_at"] is None and merge["can_undo"] is True
    assert merge["moved"]["activities"] == 5 and merge["moved"]["deals"] == 1

    viewer = api("viewer")
    assert viewer.get(f"/api/v1/contacts/{robert}").status_code == 404
    c = viewer.get(f"/api/v1/contacts/{bob}").json
    # Robert's record is newer: his non-empty values win; empty ones never do.
    assert c["first_name"] == "Robert"
    assert c["job_title"] == "CTO"
    assert c["phone"] == "+33612345678"  # Robert had none
    assert c["mobile_phone"] == "+33699999999"
    assert c["email"] == "bob@acme.com"
    assert c["secondary_emails"] == ["bob@old.com", "robert.smith@gmail.com"]
    assert sorted(t.casefold() for t in c["tags"]) == ["paris", "vip"]
    assert c["custom_fields"]["size"] == 50
    assert c["custom_fields"]["skills"] == ["go", "python"]

    timeline = viewer.get(f"/api/v1/contacts/{bob}/activities").json["data"]
    ids = {a["id"] for a in timeline}
    assert set(people["acts"].values()) | {a["id"] for a in roberts} <= ids
    merge_entries = [a for a in timeline if a["kind"] == "merge"]
    assert len(merge_entries) == 1
    assert "robert.smith@gmail.com" in merge_entries[0]["subject"]
    assert c["last_activity_at"].startswith("2024-03-01T10:00")  # Robert's call
    assert c["last_contacted_at"].startswith("2024-03-01T10:00")

    carol = viewer.get(f"/api/v1/contacts/{people['carol']}").json
    assert carol["referred_by_id"] == bob and carol["reports_to_id"] == bob

    lists = people["lists"]
    assert members(api, lists["Newsletter"]) == {bob: "subscribed"}  # strongest
    assert members(api, lists["Promotions"]) == {bob: "unsubscribed"}  # moved as it was
    assert members(api, lists["Events"]) == {bob: "unsubscribed"}  # a later unsubscribe holds

    with app.app_context():
        from app.audit.models import AuditEntry
        from app.pipeline.models import Deal

        assert db.session.get(Deal, people["deal"]).contact_id == bob
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "merge")).one()
        assert entry.entity_id == bob
        assert entry.changes["merged"]["contact"]["email"] == "robert.smith@gmail.com"
        assert entry.changes["survivor"]["contact"]["first_name"] == "Bob"
        assert {t["name"] for t in entry.changes["merged"]["tags"]} == {"Paris", "vip"}


def test_field_choices_and_values_through_the_api(api, people):
    bob, robert = people["bob"], people["robert"]
    r = api("member").post(
        f"/api/v1/contacts/{bob}/merge",
        json={
            "duplicate_id": robert,
            "fields": {
                "first_name": "survivor",
                "email": "duplicate",
                "job_title": {"value": "Chief Technology Officer"},
                "custom.skills": "survivor",
            },
        },
    )
    assert r.status_code == 201, r.json
    c = api("viewer").get(f"/api/v1/contacts/{bob}").json
    assert c["first_name"] == "Bob"
    assert c["email"] == "robert.smith@gmail.com"
    assert "bob@acme.com" in c["secondary_emails"]  # the replaced email is kept
    assert c["job_title"] == "Chief Technology Officer"
    assert c["custom_fields"]["skills"] == ["python"]
    assert r.json["fields"]["email"] == ["bob@acme.com", "robert.smith@gmail.com"]
    assert "first_name" not in r.json["fields"]  # kept as it was


def test_merge_refusals_change_nothing(api, people, make_contact):
    bob, robert = people["bob"], people["robert"]
    member = api("member")
    before = member.get(f"/api/v1/contacts/{bob}").json

    r = member.post(f"/api/v1/contacts/{bob}/merge", json={"duplicate_id": bob})
    assert r.status_code == 422 and r.json["error"]["field"] == "duplicate_id"
    r = member.post(f"/api/v1/contacts/{bob}/merge", json={"duplicate_id": 999999})
    assert r.status_code == 404 and r.json["error"]["field"] == "duplicate_id"
    r = member.post("/api/v1/contacts/999999/merge", json={"duplicate_id": bob})
    assert r.status_code == 404
    old_version = member.get(f"/api/v1/contacts/{robert}").json["version"]
    member.patch(f"/api/v1/contacts/{robert}", json={"department": "R&D"})
    r = member.post(
        f"/api/v1/contacts/{bob}/merge",
        json={"duplicate_id": robert, "duplicate_version": old_version},
    )
    assert r.status_code == 409 and r.json["error"]["field"] == "version"
    before = member.get(f"/api/v1/contacts/{bob}").json
    r = member.post(
        f"/api/v1/contacts/{bob}/merge",
        json={"duplicate_id": robert, "fields": {"shoe_size": "duplicate"}},
    )
    assert r.status_code == 422 and r.json["error"]["field"] == "fields.shoe_size"
    r = member.post(
        f"/api/v1/contacts/{bob}/merge",
        json={"duplicate_id": robert, "fields": {"phone": {"value": "not a phone"}}},
    )
    assert r.status_code == 422 and r.json["error"]["field"] == "fields.phone"
    other = make_contact(email="taken@example.com")
    assert other
    r = member.post(
        f"/api/v1/contacts/{bob}/merge",
        json={"duplicate_id": robert, "fields": {"email": {"value": "taken@example.com"}}},
    )
    assert r.status_code == 422 and r.json["error"]["field"] == "fields.email"
    r = member.post(f"/api/v1/contacts/{bob}/merge", json={"duplicate_id": robert, "extra": 1})
    assert r.status_code == 422 and r.json["error"]["field"] == "extra"
    r = api("viewer").post(f"/api/v1/contacts/{bob}/merge", json={"duplicate_id": robert})
    assert r.status_code == 403

    assert member.get(f"/api/v1/contacts/{robert}").status_code == 200
    assert member.get(f"/api/v1/contacts/{bob}").json == before


def test_merge_from_the_pair_page_applies_the_ticked_values(auth, client, api, people, make_pair):
    bob, robert = people["bob"], people["robert"]
    pair = make_pair(bob, robert, score=93)
    auth.login("member")
    page = client.get(f"/duplicates/{pair}")
    html = page.data.decode()
    assert page.status_code == 200
    assert 'name="f.first_name" value="b" checked' in html  # Robert (b) is newer
    assert 'name="survivor" value="b" checked' in html  # Robert has the longer history
    versions = {"version_a": "", "version_b": ""}
    for side, cid in (("a", bob), ("b", robert)):
        versions[f"version_{side}"] = str(
            api("viewer").get(f"/api/v1/contacts/{cid}").json["version"]
        )
    r = auth.post(
        "/duplicates/merge",
        {
            "a": bob,
            "b": robert,
            "pair_id": pair,
            "survivor": "b",
            "f.first_name": "a",
            "f.job_title": "b",
            **versions,
        },
    )
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/contacts/{robert}")
    c = api("viewer").get(f"/api/v1/contacts/{robert}").json
    assert c["first_name"] == "Bob" and c["job_title"] == "CTO"
    assert "bob@acme.com" in c["secondary_emails"]
    assert api("viewer").get(f"/api/v1/contacts/{bob}").status_code == 404
    page = client.get(f"/contacts/{robert}")
    assert "Bob Smith &lt;bob@acme.com&gt;" in page.data.decode()  # the merge on the timeline
    # the pair left the queue
    assert api("viewer").get("/api/v1/duplicates").json["data"] == []


def test_a_page_shown_before_someone_edited_a_record_refuses_to_merge(
    auth, client, api, people, make_pair
):
    bob, robert = people["bob"], people["robert"]
    pair = make_pair(bob, robert)
    auth.login("member")
    v = {cid: api("viewer").get(f"/api/v1/contacts/{cid}").json["version"] for cid in (bob, robert)}
    api("member").patch(f"/api/v1/contacts/{robert}", json={"job_title": "CEO"})
    r = auth.post(
        "/duplicates/merge",
        {
            "a": bob,
            "b": robert,
            "pair_id": pair,
            "survivor": "a",
            "version_a": v[bob],
            "version_b": v[robert],
        },
    )
    assert r.status_code == 409
    assert "changed by someone else" in r.data.decode()
    assert "CEO" in r.data.decode()  # the page shows the records as they are now
    assert api("viewer").get(f"/api/v1/contacts/{robert}").status_code == 200


def test_other_suggestions_of_the_merged_contact_follow_the_survivor(
    api, people, make_contact, make_pair
):
    bob, robert = people["bob"], people["robert"]
    rob2 = make_contact(email="r.smith@acme.com", first_name="Rob", last_name="Smith")
    bobby = make_contact(email="bobby@acme.com", first_name="Bobby", last_name="Smith")
    make_pair(bob, robert, score=95)
    make_pair(robert, rob2, score=85)  # re-pointed to (bob, rob2)
    make_pair(bob, bobby, score=81)
    make_pair(robert, bobby, score=88)  # (bob, bobby) exists: dropped
    r = api("member").post(f"/api/v1/contacts/{bob}/merge", json={"duplicate_id": robert})
    assert r.status_code == 201
    data = api("viewer").get("/api/v1/duplicates").json["data"]
    assert sorted((p["a"], p["b"], p["score"]) for p in data) == sorted(
        [(min(bob, rob2), max(bob, rob2), 85), (min(bob, bobby), max(bob, bobby), 81)]
    )


def test_archived_duplicates_can_be_merged_and_the_survivor_comes_back_if_the_other_was_active(
    auth, api, make_contact
):
    a = make_contact(email="ann@example.com", first_name="Ann")
    b = make_contact(email="ann.b@example.com", first_name="Ann")
    member = api("member")
    assert member.patch(f"/api/v1/contacts/{a}", json={"archived": True}).status_code == 200
    r = member.post(f"/api/v1/contacts/{a}/merge", json={"duplicate_id": b})
    assert r.status_code == 201
    assert member.get(f"/api/v1/contacts/{a}").json["archived"] is False


def test_merged_dates_ignore_the_merge_itself(app, api, make_contact):
    a = make_contact(email="a@example.com")
    b = make_contact(email="b@example.com")
    member = api("member")
    member.post(
        f"/api/v1/contacts/{b}/activities",
        json={"kind": "meeting", "occurred_at": "2023-05-01T08:00:00Z", "subject": "Lunch"},
    )
    member.post(f"/api/v1/contacts/{a}/merge", json={"duplicate_id": b})
    c = member.get(f"/api/v1/contacts/{a}").json
    assert c["last_activity_at"].startswith("2023-05-01T08:00")
    assert c["last_contacted_at"].startswith("2023-05-01T08:00")
    assert datetime.fromisoformat(c["updated_at"].rstrip("Z")).year >= 2025


def test_a_bulk_merge_resumes_from_its_checkpoint(app, api, users, make_contact, make_pair):
    """A bulk merge killed after its first committed cluster goes on with the rest and
    ends with the same counts as an uninterrupted run, without merging anything twice."""
    a, b, c = (make_contact(email=f"{x}@example.com", first_name="Ann") for x in "abc")
    d, e = (make_contact(email=f"{x}@example.com", first_name="Dan") for x in "de")
    make_pair(a, b, score=96)
    make_pair(b, c, score=95)
    last = make_pair(d, e, score=97)
    with app.app_context():
        from app.auth.models import User
        from app.dedupe.merger import merge
        from app.jobs import runner
        from app.jobs.models import Job

        member = db.session.get(User, users["member"].id)
        job = runner.create("dedupe_merge", {"min_score": 95, "max_pair_id": last}, actor=member)
        # What the killed run had committed: the first cluster, with its checkpoint.
        merge(a, b, actor=member, via="bulk")
        merge(a, c, actor=member, via="bulk")
        job.done = 2
        job.checkpoint = {"merged": 2, "skipped": 0, "failed": 0, "clusters": 1, "total": 3}
        db.session.commit()  # queued again, as the worker's recovery leaves it
        job_id = job.id
        runner.run_pending()
        job = db.session.get(Job, job_id)
        assert job.status == "done"
        assert job.result["merged"] == 3 and job.result["clusters"] == 2
        assert job.result["total"] == 3 and job.result["failed"] == 0
    merges = api("viewer").get("/api/v1/merges").json["data"]
    assert sorted((m["survivor"], m["merged"]) for m in merges) == [(a, b), (a, c), (d, e)]
    assert api("viewer").get("/api/v1/duplicates").json["data"] == []
