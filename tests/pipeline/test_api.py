"""/api/v1/deals and /api/v1/stages: CRUD, filters and cursor pages, moves by stage name
or id and 0-based position, version conflicts, errors naming the field, roles."""

from __future__ import annotations

from tests.pipeline.conftest import board, columns


def test_create_read_patch_delete_a_deal(api, users, make_contact, stage_ids):
    contact = make_contact(email="zoe@acme.com", first_name="Zoë", company="Acme")
    member = api("member")
    response = member.post(
        "/api/v1/deals",
        json={"title": "Acme renewal", "value": 1200.5, "currency": "usd", "stage": "Proposal",
              "contact": "zoe@acme.com", "expected_close_date": "2030-06-30"},
    )  # fmt: skip
    assert response.status_code == 201, response.json
    deal = response.json
    assert deal["title"] == "Acme renewal" and deal["value"] == 1200.5 and deal["currency"] == "USD"
    assert deal["stage"] == "Proposal" and deal["stage_id"] == stage_ids["Proposal"]
    assert deal["outcome"] == "open" and deal["closed_at"] is None
    assert deal["contact_id"] == contact and deal["company_id"] is not None
    assert deal["owner"] == "member@example.com" and deal["version"] == 1
    assert member.get(f"/api/v1/deals/{deal['id']}").json == deal

    patched = member.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"stage_id": stage_ids["Won"], "closed_reason": "Best offer", "version": 1},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["stage"] == "Won" and patched.json["closed_reason"] == "Best offer"
    assert patched.json["closed_at"] and patched.json["version"] == 2
    activities = member.get(f"/api/v1/contacts/{contact}/activities").json["data"]
    assert [a["kind"] for a in activities] == ["deal_won", "deal_created"]
    assert activities[0]["data"]["from"] == "Proposal" and activities[0]["data"]["to"] == "Won"

    cleared = member.patch(
        f"/api/v1/deals/{deal['id']}", json={"value": None, "expected_close_date": None}
    )
    assert cleared.json["value"] is None and cleared.json["expected_close_date"] is None
    assert member.delete(f"/api/v1/deals/{deal['id']}").status_code == 204
    assert member.get(f"/api/v1/deals/{deal['id']}").status_code == 404


def test_bad_deals_are_422_naming_the_field(api, stage_ids):
    member = api("member")
    response = member.post("/api/v1/deals", json={"title": "", "value": "abc", "currency": "XXY"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid" and error["field"] == "title"
    assert set(error["fields"]) == {"title", "value", "currency"}
    response = member.post("/api/v1/deals", json={"title": "x", "colour": "red"})
    assert response.status_code == 422 and response.json["error"]["field"] == "colour"
    response = member.post("/api/v1/deals", json={"title": "x", "stage": "Nope"})
    assert response.json["error"]["field"] == "stage"
    response = member.post("/api/v1/deals", json={"title": "x", "owner": "ghost@example.com"})
    assert response.json["error"]["field"] == "owner"
    assert (
        member.post("/api/v1/deals", data="{", content_type="application/json").status_code == 400
    )
    assert member.get("/api/v1/deals").json == {"data": [], "next_cursor": None}


def test_patch_with_a_stale_version_is_a_409(api, make_deal):
    deal = make_deal(title="Contested")
    member = api("member")
    assert (
        member.patch(f"/api/v1/deals/{deal}", json={"title": "One", "version": 1}).status_code
        == 200
    )
    response = member.patch(f"/api/v1/deals/{deal}", json={"title": "Two", "version": 1})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict" and response.json["error"]["version"] == 2
    response = member.patch(
        f"/api/v1/deals/{deal}", json={"title": "Two"}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 409
    assert member.delete(f"/api/v1/deals/{deal}", headers={"If-Match": "1"}).status_code == 409
    assert member.get(f"/api/v1/deals/{deal}").json["title"] == "One"


def test_move_by_stage_name_or_id_and_position(client, auth, api, make_deal, stage_ids):
    lead, proposal = stage_ids["Lead"], stage_ids["Proposal"]
    a, b, c = (make_deal(title=t, stage="Proposal") for t in "ABC")  # shown C, B, A
    x = make_deal(title="X", stage="Lead")
    member = api("member")
    response = member.post(f"/api/v1/deals/{x}/move", json={"stage": "Proposal", "position": 1})
    assert response.status_code == 200, response.json
    assert response.json["stage_id"] == proposal and response.json["version"] == 2
    auth.login("viewer")
    assert columns(board(client))[proposal] == [c, x, b, a]
    member.post(f"/api/v1/deals/{x}/move", json={"stage": proposal, "position": 99})
    assert columns(board(client))[proposal] == [c, b, a, x]
    member.post(f"/api/v1/deals/{a}/move", json={"stage": proposal, "position": 0})
    assert columns(board(client))[proposal] == [a, c, b, x]
    member.post(f"/api/v1/deals/{b}/move", json={"stage": "lead"})  # default position 0
    assert columns(board(client))[lead] == [b]
    assert columns(board(client))[proposal] == [a, c, x]
    # Won: a closing date; the version guards it too.
    response = member.post(f"/api/v1/deals/{x}/move", json={"stage": "Won", "version": 1})
    assert response.status_code == 409
    response = member.post(f"/api/v1/deals/{x}/move", json={"stage": "Won", "version": 3})
    assert response.status_code == 200 and response.json["closed_at"]


def test_move_errors(api, make_deal):
    deal = make_deal(title="Stuck")
    member = api("member")
    response = member.post(f"/api/v1/deals/{deal}/move", json={"stage": "Nowhere", "position": -1})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"stage", "position"}
    response = member.post(f"/api/v1/deals/{deal}/move", json={"position": 0})
    assert response.json["error"]["field"] == "stage"
    response = member.post(f"/api/v1/deals/{deal}/move", json={"stage": "Won", "where": 1})
    assert response.json["error"]["field"] == "where"
    assert member.post("/api/v1/deals/9999/move", json={"stage": "Won"}).status_code == 404
    assert (
        api("viewer").post(f"/api/v1/deals/{deal}/move", json={"stage": "Won"}).status_code == 403
    )
    assert member.get(f"/api/v1/deals/{deal}").json["stage"] == "Lead"


def test_list_filters_and_cursor_pages(api, users, make_deal, make_contact, stage_ids):
    contact = make_contact(email="pat@hooli.com", first_name="Pat")
    ids = [make_deal(title=f"D{i}", stage="Lead" if i % 2 else "Won") for i in range(7)]
    theirs = make_deal("admin", title="Admin's", stage="Lead", contact="pat@hooli.com",
                       expected_close_date="2031-02-01")  # fmt: skip
    viewer = api("viewer")
    first = viewer.get("/api/v1/deals?limit=5").json
    assert [d["id"] for d in first["data"]] == [*ids[:5]]
    second = viewer.get(f"/api/v1/deals?limit=5&cursor={first['next_cursor']}").json
    assert [d["id"] for d in second["data"]] == [*ids[5:], theirs] and second["next_cursor"] is None
    lead = viewer.get("/api/v1/deals?stage=Lead").json["data"]
    assert [d["id"] for d in lead] == [ids[1], ids[3], ids[5], theirs]
    assert len(viewer.get(f"/api/v1/deals?stage={stage_ids['Won']}").json["data"]) == 4
    assert [
        d["id"] for d in viewer.get(f"/api/v1/deals?owner={users['admin'].id}").json["data"]
    ] == [theirs]
    assert [d["id"] for d in viewer.get(f"/api/v1/deals?contact={contact}").json["data"]] == [
        theirs
    ]
    window = viewer.get("/api/v1/deals?close_from=2031-01-01&close_to=2031-12-31").json["data"]
    assert [d["id"] for d in window] == [theirs]
    assert len(api("member").get("/api/v1/deals?owner=me").json["data"]) == 7
    for bad in ("stage=Nope", "close_from=soon", "colour=red", "contact=x", "limit=0"):
        response = viewer.get(f"/api/v1/deals?{bad}")
        assert response.status_code == 400, bad
        assert response.json["error"]["field"] == bad.split("=")[0], bad


def test_stages_api_reads_for_all_writes_for_admins(api, make_deal, stage_ids):
    make_deal(title="In Lead", stage="Lead")
    listed = api("viewer").get("/api/v1/stages").json
    assert [s["name"] for s in listed["data"]] == [
        "Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"
    ]  # fmt: skip
    assert listed["data"][0]["deal_count"] == 1 and listed["next_cursor"] is None
    for role in ("viewer", "member"):
        assert api(role).post("/api/v1/stages", json={"name": "X"}).status_code == 403
        assert (
            api(role).patch(f"/api/v1/stages/{stage_ids['Lead']}", json={"name": "X"}).status_code
            == 403
        )
        assert api(role).delete(f"/api/v1/stages/{stage_ids['Lost']}").status_code == 403
    admin = api("admin")
    created = admin.post("/api/v1/stages", json={"name": "Demo", "outcome": "open", "position": 2})
    assert created.status_code == 201 and created.json["position"] == 2
    names = [s["name"] for s in admin.get("/api/v1/stages").json["data"]]
    assert names[:4] == ["Lead", "Qualified", "Demo", "Proposal"]
    moved = admin.patch(
        f"/api/v1/stages/{created.json['id']}", json={"position": 0, "outcome": "lost"}
    )
    assert (
        moved.status_code == 200 and moved.json["position"] == 0 and moved.json["outcome"] == "lost"
    )
    assert (
        admin.patch(f"/api/v1/stages/{created.json['id']}", json={"name": "lead"}).status_code
        == 422
    )
    assert (
        admin.post("/api/v1/stages", json={"name": "Y", "outcome": "maybe"}).json["error"]["field"]
        == "outcome"
    )
    refused = admin.delete(f"/api/v1/stages/{stage_ids['Lead']}")
    assert refused.status_code == 409 and refused.json["error"]["deals"] == 1
    assert admin.delete(f"/api/v1/stages/{created.json['id']}").status_code == 204
    assert admin.delete("/api/v1/stages/9999").status_code == 404


def test_the_openapi_document_describes_the_deal_answer(api, client, make_deal):
    doc = client.get("/openapi.json").json
    deal = api("member").get(f"/api/v1/deals/{make_deal(title='Doc')}").json
    assert set(deal) == set(doc["components"]["schemas"]["Deal"]["properties"])
    assert "/api/v1/deals/{deal_id}/move" in doc["paths"]
    assert {"name": "deals"} in doc["tags"]
