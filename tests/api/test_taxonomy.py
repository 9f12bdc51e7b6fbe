"""Companies, tags and lists through the API: paging, writes, errors, audit trail."""

from __future__ import annotations

from app.audit.models import AuditEntry
from app.extensions import db


def contact(api, email, **fields):
    return api("member").post("/api/v1/contacts", json={"email": email, **fields}).json


def audit_trail(app, entity_type):
    with app.app_context():
        return [
            (e.action, e.via)
            for e in db.session.scalars(
                db.select(AuditEntry)
                .where(AuditEntry.entity_type == entity_type)
                .order_by(AuditEntry.id)
            )
        ]


def test_companies_crud_search_and_paging(app, api):
    for name in ("Bravo", "alpha", "Charlie", "Delta"):
        response = api("member").post("/api/v1/companies", json={"name": name, "city": "Paris"})
        assert response.status_code == 201, response.json
    pages, cursor, names = 0, None, []
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api("viewer").get("/api/v1/companies", query_string=query).json
        assert "data" in body, body
        names += [c["name"] for c in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert (pages, names) == (2, ["alpha", "Bravo", "Charlie", "Delta"])
    found = api("viewer").get("/api/v1/companies", query_string={"q": "arl"}).json["data"]
    assert [c["name"] for c in found] == ["Charlie"]

    company = found[0]
    url = f"/api/v1/companies/{company['id']}"
    contact(api, "emp@example.com", company=company["id"])
    assert api("viewer").get(url).json["contact_count"] == 1
    patched = api("member").patch(
        url, json={"website": "charlie.example", "city": None, "version": company["version"]}
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["website"] == "https://charlie.example"
    assert patched.json["city"] is None
    stale = api("member").patch(url, json={"name": "Charles", "version": company["version"]})
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "conflict"

    assert api("member").delete(url).status_code == 204
    assert api("viewer").get(url).status_code == 404
    emp = api("viewer").get("/api/v1/contacts", query_string={"q": "emp"}).json["data"][0]
    assert emp["company"] is None
    assert ("delete", "api") in audit_trail(app, "company")
    assert {via for _action, via in audit_trail(app, "company")} == {"api"}


def test_company_errors_name_the_field(api):
    missing = api("member").post("/api/v1/companies", json={"city": "Oslo"})
    assert missing.status_code == 422
    assert missing.json["error"]["field"] == "name"
    unknown = api("member").post("/api/v1/companies", json={"name": "X", "ceo": "Y"})
    assert unknown.json["error"]["field"] == "ceo"
    api("member").post("/api/v1/companies", json={"name": "Acme"})
    dup = api("member").post("/api/v1/companies", json={"name": "ACME"})
    assert dup.status_code == 409
    assert dup.json["error"]["field"] == "name"
    bad_arg = api("viewer").get("/api/v1/companies", query_string={"sort": "name"})
    assert bad_arg.status_code == 400
    assert bad_arg.json["error"]["field"] == "sort"


def test_tags_with_counts_create_and_delete(app, api):
    contact(api, "a@example.com", tags=["vip", "beta"])
    contact(api, "b@example.com", tags=["VIP"])
    tags = api("viewer").get("/api/v1/tags").json
    assert tags["next_cursor"] is None
    assert {t["name"]: t["contact_count"] for t in tags["data"]} == {"beta": 1, "vip": 2}

    created = api("member").post("/api/v1/tags", json={"name": "Gold", "color": "#ffd700"})
    assert created.status_code == 201
    assert created.json["contact_count"] == 0 and created.json["color"] == "#ffd700"
    dup = api("member").post("/api/v1/tags", json={"name": "gold"})
    assert dup.status_code == 409
    assert dup.json["error"]["existing_id"] == created.json["id"]
    assert api("member").post("/api/v1/tags", json={"name": ""}).json["error"]["field"] == "name"

    vip = next(t for t in tags["data"] if t["name"] == "vip")
    assert api("member").delete(f"/api/v1/tags/{vip['id']}").status_code == 204
    a = api("viewer").get("/api/v1/contacts", query_string={"q": "a@example.com"}).json["data"]
    assert a[0]["tags"] == ["beta"]
    assert api("member").delete(f"/api/v1/tags/{vip['id']}").status_code == 404
    assert audit_trail(app, "tag") == [("create", "api"), ("delete", "api")]


def test_lists_and_members(app, api):
    ids = [contact(api, f"m{i}@example.com")["id"] for i in range(5)]
    created = api("member").post("/api/v1/lists", json={"name": "Newsletter"})
    assert created.status_code == 201
    list_id = created.json["id"]
    assert api("member").post("/api/v1/lists", json={"name": "newsletter"}).status_code == 409

    members_url = f"/api/v1/lists/{list_id}/members"
    added = api("member").post(members_url, json={"contact_ids": ids[:4]})
    assert added.json == {"added": 4, "updated": 0, "unchanged": 0}
    again = api("member").post(members_url, json={"contact_ids": ids[2:], "status": "pending"})
    assert again.json == {"added": 1, "updated": 2, "unchanged": 0}

    one = api("viewer").get(f"/api/v1/lists/{list_id}").json
    assert one["member_count"] == 5
    assert one["members_by_status"] == {"subscribed": 2, "unsubscribed": 0, "pending": 3}

    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api("viewer").get(members_url, query_string=query).json
        seen += [m["contact_id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    pending = api("viewer").get(members_url, query_string={"status": "pending"}).json["data"]
    assert [m["contact"]["email"] for m in pending] == [
        "m2@example.com",
        "m3@example.com",
        "m4@example.com",
    ]
    in_list = api("viewer").get("/api/v1/contacts", query_string={"list": list_id}).json["data"]
    assert len(in_list) == 5

    unknown = api("member").post(members_url, json={"contact_ids": [ids[0], 999999]})
    assert unknown.status_code == 422
    assert unknown.json["error"]["field"] == "contact_ids"
    assert unknown.json["error"]["missing"] == [999999]
    bad_status = api("member").post(members_url, json={"contact_ids": ids, "status": "maybe"})
    assert bad_status.json["error"]["field"] == "status"

    removed = api("member").delete(members_url, json={"contact_ids": ids[:2]})
    assert removed.json == {"removed": 2}
    assert api("viewer").get(f"/api/v1/lists/{list_id}").json["member_count"] == 3
    lists = api("viewer").get("/api/v1/lists").json
    assert [x["name"] for x in lists["data"]] == ["Newsletter"]

    assert api("member").delete(f"/api/v1/lists/{list_id}").status_code == 204
    assert api("viewer").get(f"/api/v1/lists/{list_id}").status_code == 404
    assert len(api("viewer").get("/api/v1/contacts").json["data"]) == 5
    trail = audit_trail(app, "list")
    assert trail[0] == ("create", "api") and trail[-1] == ("delete", "api")
    assert {via for _a, via in audit_trail(app, "list_membership")} == {"api"}
