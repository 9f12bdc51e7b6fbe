"""Scores follow every change of a contact at once (no job): a field edit, a new
activity, an import, a bulk action, a merge, a deleted contact; threshold crossings
show on the timeline exactly once."""

from __future__ import annotations

from tests.conftest import csrf_from


def test_editing_a_field_rescores_without_a_job(scoring, run_jobs):
    scoring.field_rule("Lives in France", 20, {"field": "country", "op": "eq", "value": "FR"})
    scoring.field_rule("VIP", 30, {"field": "tags", "op": "contains", "value": "vip"})
    run_jobs()
    cid = scoring.contact(email="ana@example.com")
    assert scoring.score(cid) == 0
    scoring.patch(cid, country="France")
    assert scoring.score(cid) == 20
    scoring.patch(cid, tags=["VIP", "other"])
    assert scoring.score(cid) == 50
    scoring.patch(cid, country=None)
    assert scoring.score(cid) == 30


def test_a_new_contact_is_scored_when_created(scoring, run_jobs):
    scoring.field_rule("Lives in France", 20, {"field": "country", "op": "eq", "value": "FR"})
    scoring.field_rule("Active", 5, {"field": "status", "op": "eq", "value": "active"})
    run_jobs()
    assert scoring.score(scoring.contact(email="a@example.com", country="FR")) == 25
    assert scoring.score(scoring.contact(email="b@example.com")) == 5


def test_a_typed_score_is_set_back_by_the_rules(scoring, run_jobs):
    scoring.field_rule("Active", 5, {"field": "status", "op": "eq", "value": "active"})
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    scoring.patch(cid, lead_score=90)
    assert scoring.score(cid) == 5


def test_without_rules_the_score_is_a_plain_field(scoring):
    cid = scoring.contact(email="a@example.com", lead_score=42)
    scoring.patch(cid, country="FR")
    assert scoring.score(cid) == 42
    body = scoring.explained(cid)
    assert body["score"] == 42 and body["computed"] is False and body["rules"] == []


def test_adding_activities_rescores_per_activity_up_to_the_maximum(scoring, run_jobs):
    scoring.activity_rule("Calls", 10, "call", 30, max_count=3)
    scoring.activity_rule("Unsubscribed", -40, "unsubscribe", 365)
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    scoring.activity(cid, "call", days_ago=1)
    assert scoring.score(cid) == 10
    scoring.activity(cid, "call", days_ago=2)
    scoring.activity(cid, "call", days_ago=40)  # outside the window
    assert scoring.score(cid) == 20
    scoring.activity(cid, "call", days_ago=3)
    scoring.activity(cid, "call", days_ago=4)
    assert scoring.score(cid) == 30  # at most 3 count
    scoring.activity(cid, "unsubscribe")
    assert scoring.score(cid) == 0  # 30 - 40, clipped
    body = scoring.explained(cid)
    assert [(r["name"], r["points"]) for r in body["rules"]] == [
        ("Calls", 30),
        ("Unsubscribed", -40),
    ]
    assert body["total"] == -10 and body["score"] == 0


def test_decayed_activities_count_less(scoring, run_jobs):
    scoring.activity_rule("Opened an email", 20, "email_opened", 60, max_count=5, decay_days=7)
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    scoring.activity(cid, "email_opened", days_ago=1)  # 20
    scoring.activity(cid, "email_opened", days_ago=8)  # 10
    scoring.activity(cid, "email_opened", days_ago=15)  # 5
    scoring.activity(cid, "email_opened", days_ago=22)  # 2.5
    assert scoring.score(cid) == 38  # 37.5 rounded
    rule = scoring.explained(cid)["rules"][0]
    assert rule == {
        "id": rule["id"], "name": "Opened an email", "points": 38,
        "found": 4, "counted": 4, "decayed": True,
    }  # fmt: skip


def test_custom_event_rules_count_events_of_that_name(scoring, run_jobs):
    scoring.rule(
        name="Bought", kind="activity", points=25, activity_kind="custom_event",
        event_name="purchase", within_days=90,
    )  # fmt: skip
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    scoring.activity(cid, "custom_event", name="signup")
    assert scoring.score(cid) == 0
    scoring.activity(cid, "custom_event", name="purchase", value=99.0)
    assert scoring.score(cid) == 25


def test_threshold_crossing_adds_exactly_one_activity_each_way(scoring, run_jobs):
    scoring.threshold(70)
    scoring.activity_rule("Meetings", 40, "meeting", 30, max_count=5)
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    scoring.activity(cid, "meeting")
    assert scoring.thresholds(cid) == []
    scoring.activity(cid, "meeting")  # 80: crosses 70
    scoring.activity(cid, "meeting")  # 100: above already
    assert scoring.score(cid) == 100
    [up] = scoring.thresholds(cid)
    assert up["subject"] == "Lead score reached 80 (threshold 70)"
    assert up["data"] == {"score": 80, "previous": 40, "threshold": 70, "direction": "up"}
    run_jobs()  # nothing queued; and a recompute changes nothing
    assert len(scoring.thresholds(cid)) == 1
    rule_id = scoring.admin.get("/api/v1/scoring/rules").json["data"][0]["id"]
    scoring.admin.patch(f"/api/v1/scoring/rules/{rule_id}", json={"points": 10})
    run_jobs()
    assert scoring.score(cid) == 30
    up, down = scoring.thresholds(cid)
    assert down["data"]["direction"] == "down"
    assert down["subject"] == "Lead score fell to 30 (below threshold 70)"


def test_threshold_activities_are_found_by_segments(scoring, run_jobs, api):
    scoring.threshold(50)
    scoring.field_rule("VIP", 60, {"field": "tags", "op": "contains", "value": "vip"})
    run_jobs()
    hot = scoring.contact(email="hot@example.com", tags=["vip"])
    scoring.contact(email="cold@example.com")
    tree = {"activity": "score_threshold", "where": {"direction": {"op": "eq", "value": "up"}}}
    response = api("member").post("/api/v1/segments/preview", json={"conditions": tree})
    assert response.json == {"count": 1}
    listed = api("member").get("/api/v1/contacts?score_min=50").json["data"]
    assert [c["id"] for c in listed] == [hot]


def test_merging_rescores_the_survivor(scoring, run_jobs):
    scoring.activity_rule("Calls", 15, "call", 30, max_count=5)
    run_jobs()
    keep = scoring.contact(email="keep@example.com", first_name="Ana")
    other = scoring.contact(email="ana.other@example.com", first_name="Ana")
    scoring.activity(keep, "call")
    scoring.activity(other, "call")
    scoring.activity(other, "call")
    assert (scoring.score(keep), scoring.score(other)) == (15, 30)
    response = scoring.member.post(f"/api/v1/contacts/{keep}/merge", json={"duplicate_id": other})
    assert response.status_code == 201, response.json
    assert scoring.score(keep) == 45


def test_deleting_a_contact_rescores_those_who_reported_to_it(scoring, run_jobs, auth):
    scoring.field_rule("Has a manager", 10, {"field": "reports_to", "op": "is_set"})
    run_jobs()
    boss = scoring.contact(email="boss@example.com")
    report = scoring.contact(email="report@example.com", reports_to="boss@example.com")
    assert scoring.score(report) == 10
    auth.login("member")
    page = auth.client.get(f"/contacts/{boss}/delete")
    assert page.status_code == 200
    response = auth.post(f"/contacts/{boss}/delete", {"csrf_token": csrf_from(page.data)})
    assert response.status_code in (302, 303)
    assert scoring.member.get(f"/api/v1/contacts/{boss}").status_code == 404
    assert scoring.score(report) == 0


def test_bulk_action_on_a_selection_rescores_at_once(scoring, run_jobs, auth):
    scoring.field_rule("VIP", 30, {"field": "tags", "op": "contains", "value": "vip"})
    run_jobs()
    ids = [scoring.contact(email=f"c{i}@example.com") for i in range(3)]
    auth.login("member")
    response = auth.post(
        "/contacts/bulk", {"action": "tag", "bulk_tag": "vip", "ids": ids[:2]}, htmx=True
    )
    assert response.status_code == 200, response.data[:300]
    assert [scoring.score(i) for i in ids] == [30, 30, 0]
    response = auth.post(
        "/contacts/bulk", {"action": "tag", "bulk_tag": "vip", "scope": "all", "query": ""},
        htmx=True,
    )  # fmt: skip
    assert response.status_code == 200, response.data[:300]
    assert [scoring.score(i) for i in ids] == [30, 30, 30]
    assert run_jobs() == 0


def test_a_bulk_action_over_many_contacts_goes_to_a_job(app, scoring, run_jobs, auth):
    app.config["SCORING_INLINE_LIMIT"] = 2  # "many" is more than this
    scoring.field_rule("VIP", 30, {"field": "tags", "op": "contains", "value": "vip"})
    run_jobs()
    ids = [scoring.contact(email=f"c{i}@example.com") for i in range(3)]
    auth.login("member")
    auth.post("/contacts/bulk", {"action": "tag", "bulk_tag": "vip", "ids": ids}, htmx=True)
    assert [scoring.score(i) for i in ids] == [0, 0, 0]  # not yet: a job does it
    assert run_jobs() == 1
    assert [scoring.score(i) for i in ids] == [30, 30, 30]
    auth.post(
        "/contacts/bulk", {"action": "untag", "bulk_tag": "vip", "scope": "all", "query": ""},
        htmx=True,
    )  # fmt: skip
    assert run_jobs() == 1
    assert [scoring.score(i) for i in ids] == [0, 0, 0]


def test_import_with_rules_scores_the_imported_contacts(scoring, run_jobs, runner, tmp_path):
    scoring.field_rule("Lives in France", 20, {"field": "country", "op": "eq", "value": "FR"})
    scoring.field_rule("Plan set", 5, {"field": "source", "op": "is_set"})
    run_jobs()
    existing = scoring.contact(email="old@example.com")
    path = tmp_path / "people.csv"
    path.write_text(
        "Email,Country,Source\n"
        "new1@example.com,France,Fair\n"
        "new2@example.com,Germany,\n"
        "old@example.com,FR,Web\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    by_email = {
        c["email"]: c["lead_score"]
        for c in scoring.member.get("/api/v1/contacts?limit=50").json["data"]
    }
    assert by_email == {"new1@example.com": 25, "new2@example.com": 0, "old@example.com": 25}
    assert scoring.score(existing) == 25
    assert run_jobs() == 0  # no recompute was needed


def test_logging_and_deleting_on_the_timeline_page_moves_the_score(auth, scoring, run_jobs):
    scoring.activity_rule("Has notes", 15, "note", 30, max_count=2)
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    auth.login("member")
    response = auth.post(f"/timeline/contacts/{cid}/log/note", {"body": "Met at the fair."})
    assert response.status_code in (302, 303), response.data[:500]
    assert scoring.score(cid) == 15
    card = auth.client.get(f"/scoring/contacts/{cid}", headers={"HX-Request": "true"})
    assert b"Lead score 15" in card.data
    [note] = [
        a
        for a in scoring.member.get(f"/api/v1/contacts/{cid}/activities").json["data"]
        if a["kind"] == "note"
    ]
    response = auth.post(f"/timeline/activities/{note['id']}/delete")
    assert response.status_code in (302, 303), response.data[:500]
    assert scoring.score(cid) == 0
