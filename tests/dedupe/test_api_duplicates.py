"""/api/v1/duplicates, dismiss, merges and undo: shapes, filters, paging and errors."""

from __future__ import annotations


def test_list_answers_pairs_by_score_with_human_reasons(api, make_contact, make_pair):
    a = make_contact(email="ann@example.com", first_name="Ann", last_name="Lee")
    b = make_contact(email="ann.lee@example.org", first_name="Anne", last_name="Lee")
    c = make_contact(email="c@example.com")
    low = make_pair(a, c, score=81, reasons=[{"code": "same_company"}])
    high = make_pair(
        a,
        b,
        score=94,
        reasons=[{"code": "names_similar", "percent": 92}, {"code": "same_phone"}],
        cluster_id=a,
    )
    r = api("viewer").get("/api/v1/duplicates")
    assert r.status_code == 200
    assert r.json["next_cursor"] is None
    first, second = r.json["data"]
    assert (first["id"], second["id"]) == (high, low)
    assert first["a"] == a and first["b"] == b and first["score"] == 94
    assert first["reasons"] == ["names 92% similar", "same phone"]
    assert first["reason_codes"][0] == {"code": "names_similar", "percent": 92}
    assert first["a_contact"] == {"id": a, "email": "ann@example.com", "name": "Ann Lee"}
    assert first["b_contact"]["email"] == "ann.lee@example.org"
    assert first["cluster_id"] == a and first["status"] == "open"
    only = api("viewer").get("/api/v1/duplicates?min_score=90").json["data"]
    assert [p["id"] for p in only] == [high]


def test_list_pages_with_a_cursor_and_refuses_bad_arguments(api, make_contact, make_pair):
    ids = [make_contact(email=f"p{i}@example.com") for i in range(5)]
    made = [
        make_pair(ids[i], ids[j], score=80 + (i + j) % 3) for i in range(5) for j in range(i + 1, 5)
    ]
    viewer = api("viewer")
    seen, cursor = [], None
    while True:
        r = viewer.get("/api/v1/duplicates?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200
        seen += r.json["data"]
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    assert sorted(p["id"] for p in seen) == sorted(made)
    assert [(-p["score"], p["id"]) for p in seen] == sorted((-p["score"], p["id"]) for p in seen)
    for bad in ("min_score=abc", "min_score=101", "status=maybe", "colour=red", "cursor=zzz"):
        r = viewer.get(f"/api/v1/duplicates?{bad}")
        assert r.status_code == 400, bad
        assert r.json["error"]["field"] == bad.split("=")[0]


def test_dismiss_answers_the_pair_and_is_idempotent(api, make_contact, make_pair):
    a = make_contact(email="a@example.com")
    b = make_contact(email="b@example.com")
    pair = make_pair(a, b)
    assert api("viewer").post(f"/api/v1/duplicates/{pair}/dismiss").status_code == 403
    r = api("member").post(f"/api/v1/duplicates/{pair}/dismiss")
    assert r.status_code == 200
    assert r.json["id"] == pair and r.json["status"] == "dismissed" and r.json["decided_at"]
    assert api("member").post(f"/api/v1/duplicates/{pair}/dismiss").json["status"] == "dismissed"
    assert api("viewer").get("/api/v1/duplicates").json["data"] == []
    r = api("member").post("/api/v1/duplicates/999999/dismiss")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"


def test_merges_list_get_and_undo(api, make_contact, make_pair):
    a = make_contact(email="a@example.com", first_name="Al")
    b = make_contact(email="b@example.com", first_name="Al")
    c = make_contact(email="c@example.com", first_name="Cy")
    pair = make_pair(a, b, score=90)
    member = api("member")
    m1 = member.post(f"/api/v1/contacts/{a}/merge", json={"duplicate_id": b}).json
    assert set(m1) >= {
        "id",
        "survivor",
        "merged",
        "created_at",
        "undone_at",
        "pair_id",
        "fields",
        "moved",
    }
    assert m1["pair_id"] == pair and m1["merged_email"] == "b@example.com"
    m2 = member.post(f"/api/v1/contacts/{c}/merge", json={"duplicate_id": a}).json
    data = api("viewer").get("/api/v1/merges").json["data"]
    assert [m["id"] for m in data] == [m2["id"], m1["id"]]
    page = api("viewer").get("/api/v1/merges?limit=1").json
    assert [m["id"] for m in page["data"]] == [m2["id"]] and page["next_cursor"]
    rest = api("viewer").get(f"/api/v1/merges?limit=1&cursor={page['next_cursor']}").json
    assert [m["id"] for m in rest["data"]] == [m1["id"]]
    by_contact = api("viewer").get(f"/api/v1/merges?contact_id={b}").json["data"]
    assert [m["id"] for m in by_contact] == [m1["id"]]
    assert api("viewer").get(f"/api/v1/merges/{m1['id']}").json["survivor"] is None  # a is gone
    assert api("viewer").get("/api/v1/merges/999999").status_code == 404
    undone = member.post(f"/api/v1/merges/{m2['id']}/undo").json
    assert undone["undone_at"] and undone["restored"] == a and undone["can_undo"] is False
    assert api("viewer").get(f"/api/v1/merges/{m1['id']}").json["survivor"] == a
