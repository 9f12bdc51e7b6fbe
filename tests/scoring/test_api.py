"""/api/v1/scoring: rules CRUD and settings for admins, a contact's score for everyone."""

from __future__ import annotations

import pytest


def test_admin_crud_of_rules(scoring, run_jobs):
    admin = scoring.admin
    created = admin.post(
        "/api/v1/scoring/rules",
        json={"name": "VIP", "kind": "field", "points": 30,
              "condition": {"field": "tags", "op": "contains", "value": "vip"}},
    )  # fmt: skip
    assert created.status_code == 201, created.json
    rule = created.json
    assert rule["enabled"] is True and rule["max_count"] == 1 and rule["position"] == 0
    rid = rule["id"]
    assert admin.get(f"/api/v1/scoring/rules/{rid}").json == rule
    patched = admin.patch(f"/api/v1/scoring/rules/{rid}", json={"points": -10, "enabled": False})
    assert patched.status_code == 200
    assert (patched.json["points"], patched.json["enabled"]) == (-10, False)
    assert [r["id"] for r in admin.get("/api/v1/scoring/rules").json["data"]] == [rid]
    switched = admin.patch(
        f"/api/v1/scoring/rules/{rid}",
        json={"kind": "activity", "activity_kind": "call", "within_days": 14, "condition": None},
    )
    assert switched.status_code == 200, switched.json
    assert switched.json["condition"] is None and switched.json["within_days"] == 14
    assert admin.delete(f"/api/v1/scoring/rules/{rid}").status_code == 204
    assert admin.get(f"/api/v1/scoring/rules/{rid}").status_code == 404
    assert admin.delete(f"/api/v1/scoring/rules/{rid}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "field", "points": 5}, "condition"),
        ({"name": "x", "kind": "field", "points": 5,
          "condition": {"field": "country", "op": "eq", "value": "Atlantis"}}, "condition"),
        ({"name": "x", "kind": "field", "points": 5,
          "condition": {"field": "lead_score", "op": "gt", "value": 3}}, "condition"),
        ({"name": "x", "kind": "field", "points": 500,
          "condition": {"field": "city", "op": "is_set"}}, "points"),
        ({"name": "x", "kind": "activity", "points": 5, "activity_kind": "call"}, "within_days"),
        ({"name": "x", "kind": "activity", "points": 5, "activity_kind": "score_threshold",
          "within_days": 3}, "activity_kind"),
        ({"name": "x", "kind": "sometimes", "points": 5}, "kind"),
        ({"name": "x", "kind": "field", "points": 5, "colour": "red",
          "condition": {"field": "city", "op": "is_set"}}, "colour"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_naming_the_field(scoring, run_jobs, body, field):
    response = scoring.admin.post("/api/v1/scoring/rules", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field
    assert scoring.admin.get("/api/v1/scoring/rules").json["data"] == []
    assert run_jobs() == 0


def test_members_and_viewers_cannot_manage_scoring(api, scoring):
    rule = scoring.field_rule("A", 5, {"field": "city", "op": "is_set"})
    for role in ("member", "viewer"):
        caller = api(role)
        assert caller.get("/api/v1/scoring/rules").status_code == 403
        assert caller.post("/api/v1/scoring/rules", json={"name": "x"}).status_code == 403
        assert caller.patch(f"/api/v1/scoring/rules/{rule['id']}", json={}).status_code == 403
        assert caller.delete(f"/api/v1/scoring/rules/{rule['id']}").status_code == 403
        assert caller.patch("/api/v1/scoring/settings", json={"threshold": 5}).status_code == 403
        assert caller.post("/api/v1/scoring/recompute").status_code == 403


def test_settings_and_recompute(scoring, run_jobs):
    admin = scoring.admin
    assert admin.get("/api/v1/scoring/settings").json == {"threshold": None}
    assert admin.patch("/api/v1/scoring/settings", json={"threshold": 0}).status_code == 422
    assert admin.patch("/api/v1/scoring/settings", json={"threshold": "70"}).status_code == 422
    assert admin.patch("/api/v1/scoring/settings", json={"other": 1}).status_code == 422
    assert admin.patch("/api/v1/scoring/settings", json={"threshold": 70}).json == {"threshold": 70}
    job = admin.post("/api/v1/scoring/recompute")
    assert job.status_code == 202 and job.json["status"] == "queued"
    assert run_jobs() == 1
    assert admin.get(f"/api/v1/jobs/{job.json['job_id']}").json["status"] == "done"


def test_contact_score_for_every_role(api, scoring, run_jobs):
    scoring.threshold(50)
    rule = scoring.field_rule("French", 20, {"field": "country", "op": "eq", "value": "FR"})
    run_jobs()
    cid = scoring.contact(email="a@example.com", country="FR")
    body = api("viewer").get(f"/api/v1/contacts/{cid}/score").json
    assert body == {
        "score": 20, "stored_score": 20, "threshold": 50, "computed": True, "total": 20,
        "rules": [{"id": rule["id"], "name": "French", "points": 20}],
    }  # fmt: skip
    assert api("viewer").get("/api/v1/contacts/999999/score").status_code == 404
    assert api("viewer").get(f"/api/v1/contacts/{cid}/score?x=1").status_code == 400
