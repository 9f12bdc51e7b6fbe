"""The lead scoring pages: admins add, edit, switch, reorder and delete rules and set the
threshold; a job recomputes the scores; members and viewers are refused."""

from __future__ import annotations

import re

import pytest

from app.extensions import db


def rule_ids_in_page(html: bytes) -> list[int]:
    return [int(i) for i in re.findall(rb'data-rule-id="(\d+)"', html)]


def test_settings_link_to_the_rules_page(auth):
    auth.login("admin")
    page = auth.client.get("/settings/")
    assert b'href="/scoring/"' in page.data
    page = auth.client.get("/scoring/")
    assert page.status_code == 200
    assert b"No rules yet" in page.data


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_are_refused(auth, scoring, role):
    rule = scoring.field_rule("FR", 5, {"field": "country", "op": "eq", "value": "FR"})
    auth.login(role)
    assert auth.client.get("/scoring/").status_code == 403
    assert auth.client.get("/scoring/rules/new").status_code == 403
    assert auth.post("/scoring/rules/new", {"name": "x", "kind": "field"}).status_code == 403
    assert auth.post(f"/scoring/rules/{rule['id']}/delete").status_code == 403
    assert auth.post("/scoring/threshold", {"threshold": "5"}).status_code == 403
    assert auth.post("/scoring/recompute").status_code == 403
    assert scoring.admin.get("/api/v1/scoring/rules").json["data"][0]["name"] == "FR"


def test_admin_creates_a_field_rule_through_the_form_and_the_job_rescores(auth, scoring, run_jobs):
    french = scoring.contact(email="fr@example.com", country="FR")
    german = scoring.contact(email="de@example.com", country="DE")
    auth.login("admin")
    form = auth.client.get("/scoring/rules/new?kind=field")
    assert form.status_code == 200
    assert b'name="n-0-field"' in form.data
    # Choosing the country field (htmx refresh) offers the text operators.
    fields = auth.post(
        "/scoring/rules/form",
        {"kind": "field", "mode": "simple", "previous_mode": "simple",
         "n-0-kind": "field", "n-0-field": "country", "n-0-op": "contains"},
        htmx=True,
    )  # fmt: skip
    assert fields.status_code == 200
    assert b'<option value="eq"' in fields.data and b"<html" not in fields.data
    response = auth.post(
        "/scoring/rules/new",
        {"name": "Lives in France", "kind": "field", "points": "20", "enabled": "1",
         "mode": "simple", "n-0-kind": "field", "n-0-field": "country", "n-0-op": "eq",
         "n-0-value": "France"},
    )  # fmt: skip
    assert response.status_code in (302, 303), response.data[:500]
    page = auth.client.get("/scoring/")
    assert b"Lives in France" in page.data
    assert b"Country is FR" in page.data  # normalised, shown in words
    assert (scoring.score(french), scoring.score(german)) == (0, 0)  # the job has not run
    assert run_jobs() == 1
    assert (scoring.score(french), scoring.score(german)) == (20, 0)
    job = auth.client.get("/scoring/")
    assert b"Last recompute" in job.data


def test_admin_creates_an_activity_rule_with_decay(auth, scoring, run_jobs):
    cid = scoring.contact(email="a@example.com")
    scoring.activity(cid, "email_opened", days_ago=1)
    scoring.activity(cid, "email_opened", days_ago=10)
    auth.login("admin")
    response = auth.post(
        "/scoring/rules/new",
        {"name": "Opened an email", "kind": "activity", "points": "10", "enabled": "1",
         "activity_kind": "email_opened", "within_days": "30", "max_count": "3",
         "decay_days": "7"},
    )  # fmt: skip
    assert response.status_code in (302, 303), response.data[:500]
    run_jobs()
    assert scoring.score(cid) == 15
    rule = scoring.admin.get("/api/v1/scoring/rules").json["data"][0]
    assert (rule["max_count"], rule["decay_days"], rule["condition"]) == (3, 7, None)
    edit = auth.client.get(f"/scoring/rules/{rule['id']}")
    assert b'value="7"' in edit.data


def test_a_bad_rule_is_refused_with_a_message_and_nothing_saved(auth, scoring, run_jobs):
    auth.login("admin")
    response = auth.post(
        "/scoring/rules/new",
        {"name": "", "kind": "field", "points": "0", "mode": "simple", "n-0-kind": "field",
         "n-0-field": "country", "n-0-op": "eq", "n-0-value": "Atlantis"},
    )  # fmt: skip
    assert response.status_code == 422
    assert b"A name is required" in response.data
    assert b"must give or take some points" in response.data
    response = auth.post(
        "/scoring/rules/new",
        {"name": "JSON", "kind": "field", "points": "5", "mode": "json",
         "condition_json": '{"all": [{"field": "nope", "op": "eq", "value": 1}]}'},
    )  # fmt: skip
    assert response.status_code == 422
    assert b"unknown field" in response.data and b"all[0].field" in response.data
    response = auth.post(
        "/scoring/rules/new",
        {"name": "JSON", "kind": "field", "points": "5", "mode": "json", "condition_json": "{"},
    )
    assert response.status_code == 422 and b"not valid JSON" in response.data
    assert scoring.admin.get("/api/v1/scoring/rules").json["data"] == []
    assert run_jobs() == 0


def test_a_json_condition_with_groups_and_lists(auth, scoring, run_jobs, api):
    created = api("member").post("/api/v1/lists", json={"name": "Newsletter"})
    assert created.status_code == 201, created.json
    inside = scoring.contact(email="in@example.com", country="FR")
    added = api("member").post(
        f"/api/v1/lists/{created.json['id']}/members", json={"contact_ids": [inside]}
    )
    assert added.json["added"] == 1, added.json
    outside = scoring.contact(email="out@example.com", country="FR")
    auth.login("admin")
    tree = '{"all": [{"field": "country", "op": "eq", "value": "FR"}, {"list": "newsletter"}]}'
    response = auth.post(
        "/scoring/rules/new",
        {"name": "French subscriber", "kind": "field", "points": "35", "enabled": "1",
         "mode": "json", "condition_json": tree},
    )  # fmt: skip
    assert response.status_code in (302, 303), response.data[:500]
    run_jobs()
    assert (scoring.score(inside), scoring.score(outside)) == (35, 0)
    rule = scoring.admin.get("/api/v1/scoring/rules").json["data"][0]
    edit = auth.client.get(f"/scoring/rules/{rule['id']}")
    assert b'name="condition_json"' in edit.data  # a tree opens as JSON


def test_disable_enable_reorder_and_delete(auth, scoring, run_jobs):
    cid = scoring.contact(email="a@example.com", country="FR", tags=["vip"])
    a = scoring.field_rule("A", 20, {"field": "country", "op": "eq", "value": "FR"})
    b = scoring.field_rule("B", 30, {"field": "tags", "op": "contains", "value": "vip"})
    run_jobs()
    assert scoring.score(cid) == 50
    auth.login("admin")
    assert rule_ids_in_page(auth.client.get("/scoring/").data) == [a["id"], b["id"]]
    auth.post(f"/scoring/rules/{b['id']}/move", {"direction": "up"})
    assert rule_ids_in_page(auth.client.get("/scoring/").data) == [b["id"], a["id"]]
    assert run_jobs() == 0  # the order changes no score
    assert [r["name"] for r in scoring.explained(cid)["rules"]] == ["B", "A"]
    auth.post(f"/scoring/rules/{a['id']}/toggle")
    run_jobs()
    assert scoring.score(cid) == 30
    auth.post(f"/scoring/rules/{a['id']}/toggle")
    run_jobs()
    assert scoring.score(cid) == 50
    assert auth.client.get(f"/scoring/rules/{b['id']}/delete").status_code == 200
    auth.post(f"/scoring/rules/{b['id']}/delete")
    run_jobs()
    assert scoring.score(cid) == 20
    assert rule_ids_in_page(auth.client.get("/scoring/").data) == [a["id"]]


def test_renaming_a_rule_needs_no_recompute(auth, scoring, run_jobs):
    rule = scoring.field_rule("A", 20, {"field": "country", "op": "eq", "value": "FR"})
    run_jobs()
    auth.login("admin")
    response = auth.post(
        f"/scoring/rules/{rule['id']}",
        {"name": "Lives in France", "kind": "field", "points": "20", "enabled": "1",
         "mode": "simple", "n-0-kind": "field", "n-0-field": "country", "n-0-op": "eq",
         "n-0-value": "FR"},
    )  # fmt: skip
    assert response.status_code in (302, 303), response.data[:500]
    assert run_jobs() == 0
    assert scoring.admin.get(f"/api/v1/scoring/rules/{rule['id']}").json["name"] == (
        "Lives in France"
    )


def test_threshold_form(auth, scoring, app):
    auth.login("admin")
    response = auth.post("/scoring/threshold", {"threshold": "150"})
    assert response.status_code == 422
    assert b"from 1 to 100" in response.data
    auth.post("/scoring/threshold", {"threshold": "70"})
    assert scoring.admin.get("/api/v1/scoring/settings").json == {"threshold": 70}
    assert b'value="70"' in auth.client.get("/scoring/").data
    auth.post("/scoring/threshold", {"threshold": ""})
    assert scoring.admin.get("/api/v1/scoring/settings").json == {"threshold": None}
    with app.app_context():
        from app.audit.models import AuditEntry

        actions = db.session.scalars(
            db.select(AuditEntry.changes).where(AuditEntry.entity_type == "setting")
        ).all()
        assert actions == [{"score_threshold": [None, 70]}, {"score_threshold": [70, None]}]


def test_recompute_now_shows_the_job_with_its_result(auth, scoring, run_jobs):
    scoring.field_rule("A", 20, {"field": "country", "op": "eq", "value": "FR"})
    run_jobs()
    scoring.contact(email="a@example.com", country="FR")
    scoring.threshold(10)
    auth.login("admin")
    response = auth.post("/scoring/recompute")
    assert response.status_code in (302, 303)
    job_url = response.headers["Location"]
    page = auth.client.get(job_url)
    assert b"Waiting for a worker" in page.data
    run_jobs()
    page = auth.client.get(job_url)
    assert b'data-count="rescored">1<' in page.data
    assert b'data-count="changed">0<' in page.data  # scored when created already


def test_the_form_switches_kinds_and_condition_modes(auth):
    from html import unescape

    auth.login("admin")
    base = {"name": "x", "kind": "field", "points": "5", "n-0-kind": "field",
            "n-0-field": "country", "n-0-op": "eq", "n-0-value": "FR"}  # fmt: skip
    to_json = auth.post(
        "/scoring/rules/form", {**base, "mode": "json", "previous_mode": "simple"}, htmx=True
    )
    text = unescape(to_json.data.decode())
    assert '"field": "country"' in text and '"value": "FR"' in text
    back = auth.post(
        "/scoring/rules/form",
        {**base, "mode": "simple", "previous_mode": "json",
         "condition_json": '{"field": "city", "op": "is_set"}'},
        htmx=True,
    )  # fmt: skip
    assert b'<option value="city" selected>' in back.data
    group = auth.post(
        "/scoring/rules/form",
        {**base, "mode": "simple", "previous_mode": "json",
         "condition_json": '{"any": [{"field": "city", "op": "is_set"}, {"list": 1}]}'},
        htmx=True,
    )  # fmt: skip
    assert b"can only be edited as JSON" in group.data
    assert b'name="condition_json"' in group.data
    # Without JavaScript, "Update the form" reloads the whole page in its new shape.
    page = auth.post("/scoring/rules/form", {**base, "kind": "activity"})
    assert page.status_code == 200
    assert b"<html" in page.data and b'name="within_days"' in page.data
    assert b'name="n-0-field"' not in page.data
