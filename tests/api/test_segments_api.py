"""/api/v1/segments: saved trees with a live count, their contacts paged like the contact
list, a preview count, and refused trees naming the bad node. Activities and custom
events are sent through the ingestion API, as an integration would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db

SEGMENTS = "/api/v1/segments"
PREVIEW = "/api/v1/segments/preview"
BATCH = "/api/v1/activities/batch"


def _contacts(api, *emails: str, **fields) -> dict[str, int]:
    out = {}
    for email in emails:
        response = api("member").post("/api/v1/contacts", json={"email": email, **fields})
        assert response.status_code == 201, response.json
        out[email.split("@")[0]] = response.json["id"]
    return out


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(api, conditions, role: str = "viewer", **extra) -> int:
    response = api(role).post(PREVIEW, json={"conditions": conditions, **extra})
    assert response.status_code == 200, response.json
    return response.json["count"]


def _ids(api, segment_id: int, limit: int = 500) -> list[int]:
    ids, cursor = [], None
    while True:
        args = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = api("viewer").get(f"{SEGMENTS}/{segment_id}/contacts", query_string=args).json
        ids += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_crud_with_live_counts(api, app, users):
    ids = _contacts(api, "ann@example.com", "bob@example.com", country="FR")
    _contacts(api, "cat@example.com", country="DE")
    tree = {"all": [{"field": "country", "op": "eq", "value": "fr"}]}
    response = api("member").post(SEGMENTS, json={"name": " French ", "conditions": tree})
    assert response.status_code == 201, response.json
    seg = response.json
    assert seg["name"] == "French"
    assert seg["count"] == 2
    assert seg["timezone"] == "UTC"
    assert seg["owner_id"] == users["member"].id
    # Stored normalised: the country as its ISO code.
    assert seg["conditions"] == {"all": [{"field": "country", "op": "eq", "value": "FR"}]}

    # Live: a new French contact counts at once.
    _contacts(api, "dan@example.com", country="FR")
    got = api("viewer").get(f"{SEGMENTS}/{seg['id']}").json
    assert got["count"] == 3 and got["name"] == "French"

    listed = api("viewer").get(SEGMENTS).json
    assert listed["next_cursor"] is None
    assert [s["name"] for s in listed["data"]] == ["French"]

    # Names are unique whatever their case.
    again = api("member").post(SEGMENTS, json={"name": "FRENCH", "conditions": tree})
    assert again.status_code == 422 and again.json["error"]["field"] == "name"

    patched = api("member").patch(
        f"{SEGMENTS}/{seg['id']}",
        json={"name": "Germans", "conditions": {"field": "country", "op": "eq", "value": "DE"}},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["name"] == "Germans" and patched.json["count"] == 1
    tz = api("member").patch(f"{SEGMENTS}/{seg['id']}", json={"timezone": "Europe/Paris"})
    assert tz.json["timezone"] == "Europe/Paris" and tz.json["name"] == "Germans"

    assert api("member").delete(f"{SEGMENTS}/{seg['id']}").status_code == 204
    assert api("viewer").get(f"{SEGMENTS}/{seg['id']}").status_code == 404
    assert api("viewer").get(SEGMENTS).json["data"] == []
    assert api("viewer").get(f"/api/v1/contacts/{ids['ann']}").status_code == 200

    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "segment")
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["create", "update", "update", "delete"]


def test_list_pages_by_name(api):
    for name in ("b", "A", "d", "C", "e"):
        api("member").post(SEGMENTS, json={"name": name, "conditions": {"all": []}})
    names, cursor = [], None
    while True:
        args = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api("viewer").get(SEGMENTS, query_string=args).json
        assert all("count" not in s for s in page["data"])
        names += [s["name"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["A", "b", "C", "d", "e"]
    bad = api("viewer").get(SEGMENTS, query_string={"sort": "name"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "sort"


def test_invalid_trees_are_refused_with_the_path(api):
    _contacts(api, "ann@example.com")
    bad_op = {
        "all": [
            {"field": "country", "op": "eq", "value": "FR"},
            {"any": [{"field": "first_name", "op": "like", "value": "A%"}]},
        ]
    }
    response = api("member").post(SEGMENTS, json={"name": "Bad", "conditions": bad_op})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["field"] == "conditions"
    assert error["message"] == 'all[1].any[0].op: unknown operator "like"'
    assert error["path"] == "all[1].any[0].op"

    cases = [
        ({"field": "shoe_size", "op": "eq", "value": 4}, "field: unknown field"),
        ({"list": "Nope"}, 'list: unknown list "Nope"'),
        ({"all": [{"field": "lead_score", "op": "gt", "value": "x"}]}, "all[0].value:"),
        ({"not": {"event": "purchase", "aggregate": "median", "op": "gte", "value": 1}},
         "not.aggregate:"),
        ({"activity": "tweet"}, 'activity: unknown activity kind "tweet"'),
        ("everyone", "expected an object"),
    ]  # fmt: skip
    for conditions, text in cases:
        for path, body in (
            (SEGMENTS, {"name": "Bad", "conditions": conditions}),
            (PREVIEW, {"conditions": conditions}),
        ):
            response = api("member").post(path, json=body)
            assert response.status_code == 422, (conditions, response.json)
            assert response.json["error"]["field"] == "conditions"
            assert text in response.json["error"]["message"], (text, response.json)

    deep: dict = {"field": "city", "op": "is_set"}
    for _ in range(30):
        deep = {"not": deep}
    response = api("member").post(PREVIEW, json={"conditions": deep})
    assert response.status_code == 422 and "deeply nested" in response.json["error"]["message"]

    response = api("member").post(SEGMENTS, json={"name": "No tree"})
    assert response.status_code == 422 and response.json["error"]["field"] == "conditions"
    response = api("member").post(
        SEGMENTS, json={"name": "Tz", "conditions": {"all": []}, "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "timezone"
    assert "Mars/Olympus" in response.json["error"]["message"]
    response = api("member").post(SEGMENTS, json={"name": " ", "conditions": {"all": []}})
    assert response.status_code == 422 and response.json["error"]["field"] == "name"
    response = api("member").post(SEGMENTS, json={"name": "X", "conditions": {}, "colour": 1})
    assert response.status_code == 422 and response.json["error"]["field"] == "colour"
    assert api("viewer").get(SEGMENTS).json["data"] == []

    seg = api("member").post(SEGMENTS, json={"name": "Ok", "conditions": {"all": []}}).json
    response = api("member").patch(f"{SEGMENTS}/{seg['id']}", json={"conditions": bad_op})
    assert response.status_code == 422
    assert response.json["error"]["message"] == 'all[1].any[0].op: unknown operator "like"'
    assert api("viewer").get(f"{SEGMENTS}/{seg['id']}").json["conditions"] == {"all": []}


def test_roles(api):
    body = {"name": "All", "conditions": {"all": []}}
    assert api("viewer").post(SEGMENTS, json=body).status_code == 403
    seg = api("member").post(SEGMENTS, json=body).json
    assert api("viewer").patch(f"{SEGMENTS}/{seg['id']}", json={"name": "x"}).status_code == 403
    assert api("viewer").delete(f"{SEGMENTS}/{seg['id']}").status_code == 403
    assert api("viewer").get(f"{SEGMENTS}/{seg['id']}").status_code == 200
    assert api("viewer").post(PREVIEW, json={"conditions": {"all": []}}).status_code == 200
    assert api("admin").get(f"{SEGMENTS}/{seg['id']}").json["name"] == "All"


def test_rfm_segments_over_ingested_events(api):
    c = _contacts(api, "ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com")
    purchase = lambda who, value, days: {  # noqa: E731
        "contact_id": c[who],
        "kind": "custom_event",
        "name": "purchase",
        "value": value,
        "occurred_at": _ago(days),
        "external_id": f"order-{who}-{days}",
    }
    events = [
        purchase("ann", 400, 10),
        purchase("ann", 500, 40),
        purchase("ann", 300, 200),
        purchase("bob", 1200, 200),
        purchase("cat", 5000, 400),
        purchase("cat", 20, 60),
        {"email": "dan@example.com", "kind": "custom_event", "name": "signup"},
    ]
    response = api("member").post(BATCH, json={"activities": events})
    assert response.status_code == 200 and response.json["created"] == 7
    # Sending them again changes no count.
    assert api("member").post(BATCH, json={"activities": events}).json["existing"] == 6

    three_plus = {"event": "purchase", "aggregate": "count", "op": "gte", "value": 3}
    spent = {"event": "purchase", "aggregate": "sum", "op": "gte", "value": 1000,
             "within_days": 365}  # fmt: skip
    recent = {"event": "purchase", "op": "gte", "value": 1, "within_days": 90}
    assert _count(api, three_plus) == 1
    assert _count(api, spent) == 2  # ann 1200, bob 1200; cat's 5000 is too old
    assert _count(api, {"not": recent}) == 2  # bob, dan
    assert _count(api, {"event": "purchase", "aggregate": "max", "op": "gt", "value": 1000}) == 2
    assert _count(api, {"all": [spent, {"not": recent}]}) == 1  # bob

    seg = (
        api("member")
        .post(
            SEGMENTS,
            json={"name": "Lapsed big spenders", "conditions": {"all": [spent, {"not": recent}]}},
        )
        .json
    )
    assert seg["count"] == 1
    assert _ids(api, seg["id"]) == [c["bob"]]
    # Bob buys again: he leaves the segment at once.
    api("member").post(
        f"/api/v1/contacts/{c['bob']}/activities",
        json={"kind": "custom_event", "name": "purchase", "value": 5},
    )
    assert api("viewer").get(f"{SEGMENTS}/{seg['id']}").json["count"] == 0
    assert _ids(api, seg["id"]) == []


def test_activity_counts_windows_and_data_conditions(api):
    c = _contacts(api, "ann@example.com", "bob@example.com", "cat@example.com")
    acts = [
        {"contact_id": c["ann"], "kind": "email_opened", "occurred_at": _ago(1)},
        {"contact_id": c["ann"], "kind": "email_opened", "occurred_at": _ago(5)},
        {"contact_id": c["bob"], "kind": "email_opened", "occurred_at": _ago(3)},
        {"contact_id": c["bob"], "kind": "email_opened", "occurred_at": _ago(45)},
        {"contact_id": c["bob"], "kind": "email_clicked", "data": {"url": "https://x.io/pricing"}},
        {"contact_id": c["cat"], "kind": "email_clicked", "data": {"url": "https://x.io/blog"}},
    ]
    assert api("member").post(BATCH, json={"activities": acts}).status_code == 200
    opened_twice = {"activity": "email_opened", "count": {"op": "gte", "value": 2},
                    "within_days": 30}  # fmt: skip
    assert _count(api, opened_twice) == 1
    assert _count(api, {**opened_twice, "within_days": None}) == 2
    pricing = {"activity": "email_clicked",
               "where": {"url": {"op": "contains", "value": "pricing"}},
               "count": {"op": "gte", "value": 1}}  # fmt: skip
    assert _count(api, pricing) == 1
    assert _count(api, {"any": [opened_twice, pricing]}) == 2
    never_clicked = {"activity": "email_clicked", "count": {"op": "eq", "value": 0}}
    assert _count(api, never_clicked) == 1
    # The contact dates the ingestion moved are fields too.
    assert _count(api, {"field": "last_activity_at", "op": "within_last_days", "value": 2}) == 3
    assert _count(api, {"field": "last_contacted_at", "op": "is_set"}) == 0


def test_segment_contacts_page_like_the_contact_list(api):
    emails = [f"user{i}@example.com" for i in range(7)]
    ids = list(_contacts(api, *emails, country="FR", tags=["vip"]).values())
    _contacts(api, "other@example.com", country="FR")
    archived = _contacts(api, "gone@example.com", country="FR", tags=["vip"])["gone"]
    api("member").patch(f"/api/v1/contacts/{archived}", json={"archived": True})
    seg = (
        api("member")
        .post(
            SEGMENTS,
            json={
                "name": "French VIPs",
                "conditions": {
                    "all": [
                        {"field": "country", "op": "eq", "value": "FR"},
                        {"field": "tags", "op": "contains", "value": "VIP"},
                    ]
                },
            },
        )
        .json
    )
    assert seg["count"] == 7
    assert _ids(api, seg["id"], limit=3) == sorted(ids)

    page = api("viewer").get(f"{SEGMENTS}/{seg['id']}/contacts", query_string={"limit": 3}).json
    listed = api("viewer").get("/api/v1/contacts", query_string={"limit": 1}).json["data"][0]
    assert set(page["data"][0]) == set(listed)
    assert page["data"][0]["tags"] == ["vip"]
    assert page["next_cursor"]

    path = f"{SEGMENTS}/{seg['id']}/contacts"
    bad = api("viewer").get(path, query_string={"cursor": "nope"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "cursor"
    assert api("viewer").get(path, query_string={"q": "x"}).status_code == 400
    assert api("viewer").get(f"{SEGMENTS}/999/contacts").status_code == 404


def test_custom_fields_and_a_tree_that_no_longer_applies(api, app):
    from app.contacts.models import CustomField
    from app.settings.customfields import create_field, delete_field

    with app.app_context():
        create_field({"label": "Plan", "type": "select", "options": "Pro\nTeam\nFree"})
        db.session.commit()
    _contacts(api, "ann@example.com", custom_fields={"plan": "Pro"})
    _contacts(api, "bob@example.com", custom_fields={"plan": "Free"})
    tree = {"field": "custom.plan", "op": "in", "value": ["pro", "team"]}
    seg = api("member").post(SEGMENTS, json={"name": "Paying", "conditions": tree}).json
    assert seg["count"] == 1
    assert seg["conditions"]["value"] == ["Pro", "Team"]

    with app.app_context():
        delete_field(db.session.scalar(select(CustomField)))
        db.session.commit()
    got = api("viewer").get(f"{SEGMENTS}/{seg['id']}")
    assert got.status_code == 200
    assert got.json["count"] is None
    assert 'unknown custom field "plan"' in got.json["error"]
    contacts = api("viewer").get(f"{SEGMENTS}/{seg['id']}/contacts")
    assert contacts.status_code == 422 and contacts.json["error"]["field"] == "conditions"


def test_the_contact_list_refuses_an_unknown_segment(api):
    response = api("member").get("/api/v1/contacts?segment=999999")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "segment"
