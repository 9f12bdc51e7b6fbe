"""POST /api/v1/contacts/batch: per-item results; a bad item does not undo the good ones."""

from __future__ import annotations

BATCH = "/api/v1/contacts/batch"


def test_mixed_good_and_bad_items(api):
    api("member").post("/api/v1/contacts", json={"email": "old@example.com", "first_name": "Old"})
    response = api("member").post(
        BATCH,
        json={
            "contacts": [
                {"email": "new1@example.com", "first_name": "New"},
                {"email": "broken", "first_name": "Bad"},
                {"email": "old@example.com", "job_title": "Boss"},
                "not an object",
                {"email": "new2@example.com", "lead_score": "many"},
                {"email": "new3@example.com", "tags": ["batch"]},
            ]
        },
    )
    assert response.status_code == 200, response.json
    body = response.json
    statuses = [r["status"] for r in body["data"]]
    assert statuses == ["created", "error", "updated", "error", "error", "created"]
    assert [r["index"] for r in body["data"]] == list(range(6))
    assert (body["created"], body["updated"], body["failed"]) == (2, 1, 3)
    assert body["data"][1]["error"]["field"] == "email"
    assert body["data"][4]["error"]["field"] == "lead_score"
    assert body["data"][1]["id"] is None

    listed = api("viewer").get("/api/v1/contacts", query_string={"sort": "email"}).json["data"]
    assert [c["email"] for c in listed] == [
        "new1@example.com",
        "new3@example.com",
        "old@example.com",
    ]
    old = next(c for c in listed if c["email"] == "old@example.com")
    assert old["job_title"] == "Boss" and old["first_name"] == "Old"
    assert next(c for c in listed if c["email"] == "new3@example.com")["tags"] == ["batch"]


def test_a_failing_item_after_a_new_company_leaves_no_trace(api):
    response = api("member").post(
        BATCH,
        json={"contacts": [{"email": "x@example.com", "company": "Ghost Ltd", "lead_score": -5}]},
    )
    assert response.json["data"][0]["status"] == "error"
    companies = api("viewer").get("/api/v1/companies").json["data"]
    assert companies == []


def test_batch_limit_and_shape(api):
    too_many = {"contacts": [{"email": f"u{i}@example.com"} for i in range(1001)]}
    response = api("member").post(BATCH, json=too_many)
    assert response.status_code == 413
    assert response.json["error"]["field"] == "contacts"
    assert "1000" in response.json["error"]["message"].replace(",", "")
    assert api("viewer").get("/api/v1/contacts").json["data"] == []

    missing = api("member").post(BATCH, json={"people": []})
    assert missing.status_code == 400
    assert missing.json["error"]["field"] == "contacts"


def test_batch_stops_creating_at_the_contact_limit(app, api):
    app.config["CONTACT_LIMIT"] = 2
    response = api("member").post(
        BATCH, json={"contacts": [{"email": f"l{i}@example.com"} for i in range(3)]}
    )
    statuses = [r["status"] for r in response.json["data"]]
    assert statuses == ["created", "created", "error"]
    assert response.json["data"][2]["error"]["code"] == "limit_reached"


def test_viewer_cannot_batch(api):
    response = api("viewer").post(BATCH, json={"contacts": [{"email": "v@example.com"}]})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
