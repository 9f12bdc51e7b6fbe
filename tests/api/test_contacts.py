"""The contacts API as a script uses it: list envelope and cursors, filters, upsert,
PATCH semantics, version conflicts, delete, and the error shape."""

from __future__ import annotations

from app.audit.models import AuditEntry
from app.contacts.models import CustomField
from app.extensions import db

CONTACTS = "/api/v1/contacts"


def make(api, role="member", **fields):
    response = api(role).post(CONTACTS, json=fields)
    assert response.status_code in (200, 201), response.json
    return response.json


def test_list_envelope_and_cursor_pages_do_not_overlap(api):
    for i in range(7):
        make(api, email=f"p{i}@example.com", first_name=f"P{i}")
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 3, "sort": "email"}
        if cursor:
            query["cursor"] = cursor
        body = api("viewer").get(CONTACTS, query_string=query).json
        assert set(body) == {"data", "next_cursor"}
        seen.extend(c["id"] for c in body["data"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    emails = [api("viewer").get(f"{CONTACTS}/{i}").json["email"] for i in seen]
    assert emails == sorted(emails)


def test_the_last_full_page_ends_with_a_null_cursor(api):
    for i in range(4):
        make(api, email=f"e{i}@example.com")
    first = api("viewer").get(CONTACTS, query_string={"limit": 2}).json
    assert first["next_cursor"]
    second = (
        api("viewer").get(CONTACTS, query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    )
    assert len(second["data"]) == 2
    assert second["next_cursor"] is None
    assert {c["id"] for c in first["data"]}.isdisjoint(c["id"] for c in second["data"])


def test_filters_search_status_tag_score_and_custom_field(app, api):
    with app.app_context():
        db.session.add(CustomField(name="seats", label="Seats", type="number"))
        db.session.commit()
    make(
        api,
        email="zoe@example.com",
        first_name="Zoë",
        last_name="Ørsted",
        status="replied",
        tags=["vip"],
        lead_score=80,
        custom_fields={"seats": 12},
    )
    make(api, email="bob@example.com", first_name="Bob", status="active", lead_score=10)

    def emails(**query):
        response = api("viewer").get(CONTACTS, query_string=query)
        assert response.status_code == 200, response.json
        return [c["email"] for c in response.json["data"]]

    assert emails(q="zoe") == ["zoe@example.com"]
    assert emails(q="orst") == ["zoe@example.com"]
    assert emails(status="replied") == ["zoe@example.com"]
    assert sorted(emails(status="replied,active")) == ["bob@example.com", "zoe@example.com"]
    assert emails(tag="VIP") == ["zoe@example.com"]
    assert emails(score_min=50) == ["zoe@example.com"]
    assert emails(score_max=50) == ["bob@example.com"]
    assert emails(**{"cf.seats.min": 10}) == ["zoe@example.com"]
    assert emails(**{"cf.seats.max": 5}) == []
    contact = api("viewer").get(CONTACTS, query_string={"q": "zoe"}).json["data"][0]
    assert contact["custom_fields"] == {"seats": 12}
    assert contact["tags"] == ["vip"]
    assert contact["first_name"] == "Zoë"


def test_unknown_or_invalid_filter_is_a_400_naming_it(api):
    for query, field in (
        ({"colour": "red"}, "colour"),
        ({"status": "sleepy"}, "status"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"cf.nope": "1"}, "cf.nope"),
        ({"sort": "password"}, "sort"),
        ({"cursor": "garbage!"}, "cursor"),
    ):
        response = api("viewer").get(CONTACTS, query_string=query)
        assert response.status_code == 400, query
        error = response.json["error"]
        assert error["field"] == field
        assert error["code"] == "invalid"
        assert error["message"]


def test_upsert_creates_then_updates_only_the_fields_given(app, api):
    created = api("member").post(
        CONTACTS,
        json={
            "email": "Ada@Example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines",
            "phone": "+44 20 7946 0958",
            "tags": ["math"],
        },
    )
    assert created.status_code == 201
    body = created.json
    assert body["email"] == "ada@example.com"
    assert body["company"] == "Analytical Engines"
    assert body["phone"] == "+442079460958"
    assert body["owner"] == "member@example.com"

    updated = api("member").post(CONTACTS, json={"email": "ADA@example.com", "job_title": "CTO"})
    assert updated.status_code == 200
    assert updated.json["id"] == body["id"]
    assert updated.json["job_title"] == "CTO"
    assert updated.json["last_name"] == "Lovelace"
    assert updated.json["tags"] == ["math"]
    assert updated.json["version"] > body["version"]
    with app.app_context():
        entries = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.entity_type == "contact")
        ).all()
        assert [(e.action, e.via) for e in entries] == [("create", "api"), ("update", "api")]


def test_validation_error_names_the_field_and_saves_nothing(api):
    response = api("member").post(
        CONTACTS, json={"email": "x@example.com", "lead_score": 400, "country": "Atlantis"}
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid"
    assert error["field"] in ("lead_score", "country")
    assert set(error["fields"]) == {"lead_score", "country"}
    assert api("viewer").get(CONTACTS).json["data"] == []

    bad_email = api("member").post(CONTACTS, json={"email": "not an email"})
    assert bad_email.status_code == 422
    assert bad_email.json["error"]["field"] == "email"

    unknown = api("member").post(CONTACTS, json={"email": "y@example.com", "shoe_size": 44})
    assert unknown.status_code == 422
    assert unknown.json["error"]["field"] == "shoe_size"


def test_malformed_json_is_a_400(api):
    response = api("member").post(
        CONTACTS, data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert api("member").post(CONTACTS, json=[1, 2]).status_code == 400
    assert api("member").post(CONTACTS).status_code == 400


def test_patch_null_clears_missing_leaves(app, api):
    with app.app_context():
        db.session.add(CustomField(name="plan", label="Plan", type="text"))
        db.session.commit()
    contact = make(
        api,
        email="c@example.com",
        first_name="Carl",
        job_title="CEO",
        tags=["a"],
        company="Acme",
        custom_fields={"plan": "gold"},
    )
    url = f"{CONTACTS}/{contact['id']}"
    response = api("member").patch(url, json={"job_title": None, "city": "Lyon"})
    assert response.status_code == 200, response.json
    after = api("viewer").get(url).json
    assert after["job_title"] is None
    assert after["city"] == "Lyon"
    assert after["first_name"] == "Carl"
    assert after["tags"] == ["a"]
    assert after["company"] == "Acme"
    assert after["custom_fields"] == {"plan": "gold"}

    cleared = (
        api("member")
        .patch(url, json={"tags": None, "company": None, "custom_fields": {"plan": None}})
        .json
    )
    assert cleared["tags"] == []
    assert cleared["company"] is None
    assert cleared["custom_fields"] == {}
    assert cleared["city"] == "Lyon"


def test_patch_with_stale_version_is_a_conflict_showing_current_values(api):
    contact = make(api, email="v@example.com", first_name="Vera")
    url = f"{CONTACTS}/{contact['id']}"
    first = api("member").patch(url, json={"first_name": "Vera A", "version": contact["version"]})
    assert first.status_code == 200
    stale = api("admin").patch(url, json={"first_name": "Vera B", "version": contact["version"]})
    assert stale.status_code == 409
    error = stale.json["error"]
    assert error["code"] == "conflict"
    assert error["current"]["first_name"] == "Vera A"
    assert error["version"] == first.json["version"]
    by_header = api("admin").patch(
        url, json={"first_name": "Vera C"}, headers={"If-Match": f'"{contact["version"]}"'}
    )
    assert by_header.status_code == 409
    fresh = api("admin").patch(
        url, json={"first_name": "Vera C"}, headers={"If-Match": first.headers["ETag"]}
    )
    assert fresh.status_code == 200
    assert api("viewer").get(url).json["first_name"] == "Vera C"


def test_patch_archives_and_restores(api):
    contact = make(api, email="arch@example.com")
    url = f"{CONTACTS}/{contact['id']}"
    assert api("member").patch(url, json={"archived": True}).json["archived"] is True
    assert api("viewer").get(CONTACTS).json["data"] == []
    listed = api("viewer").get(CONTACTS, query_string={"archived": "only"}).json["data"]
    assert [c["id"] for c in listed] == [contact["id"]]
    assert api("member").patch(url, json={"archived": False}).json["archived"] is False


def test_get_and_delete_one(api):
    contact = make(api, email="gone@example.com")
    url = f"{CONTACTS}/{contact['id']}"
    assert api("viewer").get(url).json["email"] == "gone@example.com"
    assert api("member").delete(url).status_code == 204
    missing = api("viewer").get(url)
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    assert api("member").delete(url).status_code == 404


def test_contact_limit_refuses_creation_with_a_clear_message(app, api):
    app.config["CONTACT_LIMIT"] = 2
    make(api, email="one@example.com")
    make(api, email="two@example.com")
    refused = api("member").post(CONTACTS, json={"email": "three@example.com"})
    assert refused.status_code == 403
    error = refused.json["error"]
    assert error["code"] == "limit_reached"
    assert "2" in error["message"] and error["remaining"] == 0
    # Updating an existing contact is still allowed at the cap.
    assert api("member").post(CONTACTS, json={"email": "one@example.com"}).status_code == 200
    assert len(api("viewer").get(CONTACTS).json["data"]) == 2
