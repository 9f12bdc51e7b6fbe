"""The review queue and its pages, used the way a person does: the queue by score with
clusters, merge and "not a duplicate" from the queue (htmx and full page), the
side-by-side page, "Merge with…" from a contact page, bulk merge after a preview, and
what a viewer may not do."""

from __future__ import annotations

import re

from app.extensions import db


def queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="pair-(\d+)"', html)]


def test_the_queue_lists_open_pairs_by_score_with_reasons_and_clusters(
    auth, client, make_contact, make_pair
):
    ids = [make_contact(email=f"p{i}@example.com", first_name=f"P{i}") for i in range(4)]
    low = make_pair(ids[0], ids[1], score=82, reasons=[{"code": "names_similar", "percent": 92}])
    high = make_pair(ids[1], ids[2], score=97, reasons=[{"code": "same_phone"}], cluster_id=ids[0])
    mid = make_pair(ids[0], ids[2], score=90, cluster_id=ids[0])
    other = make_pair(ids[2], ids[3], score=85)
    auth.login("viewer")
    html = client.get("/duplicates/").data.decode()
    assert queue_ids(html) == [high, mid, other, low]
    assert "names 92% similar" in html and "same phone" in html
    assert "3 records" in html  # the cluster of p0, p1, p2
    assert "4 suggested duplicates to review." in html
    assert 'href="/duplicates/"' in client.get("/contacts/").data.decode()  # in the nav
    html = client.get("/duplicates/?min_score=86").data.decode()
    assert queue_ids(html) == [high, mid]
    html = client.get(f"/duplicates/?cluster={ids[0]}").data.decode()
    assert queue_ids(html) == [high, mid]
    # a viewer reads but gets no buttons
    assert "Not a duplicate" not in html and 'name="pair_id"' not in html


def test_the_queue_pages_by_25(auth, client, make_contact, make_pair):
    ids = [make_contact(email=f"q{i}@example.com") for i in range(8)]
    made = [
        make_pair(ids[i], ids[j], score=99 - (i * 8 + j) % 20)
        for i in range(8)
        for j in range(i + 1, 8)
    ]
    auth.login("viewer")
    first = client.get("/duplicates/").data.decode()
    second = client.get("/duplicates/?page=2").data.decode()
    assert len(queue_ids(first)) == 25 and len(queue_ids(second)) == len(made) - 25
    assert set(queue_ids(first)) | set(queue_ids(second)) == set(made)
    assert 'rel="next"' in first and 'rel="prev"' in second


def test_not_a_duplicate_from_the_queue_is_remembered(
    app, auth, client, api, make_contact, make_pair
):
    same = {"first_name": "Ann", "last_name": "Lee", "phone": "+33612345678"}
    a = make_contact(email="ann@example.com", **same)
    b = make_contact(email="ann.lee@corp.example.com", **same)
    c = make_contact(email="a.lee@other.example.net", **same)
    pair = make_pair(a, b, score=96)
    auth.login("member")
    assert 'action="/duplicates/scan"' in client.get("/duplicates/").data.decode()
    r = auth.post(f"/duplicates/{pair}/dismiss", htmx=True)
    assert r.status_code == 200
    assert "pair-" not in r.data.decode()  # the row is swapped out for nothing
    assert "will not be suggested again" in r.data.decode()
    assert queue_ids(client.get("/duplicates/").data.decode()) == []
    assert api("viewer").get("/api/v1/duplicates?status=dismissed").json["data"][0]["id"] == pair
    # a new scan finds the three records alike, but does not suggest the dismissed pair
    r = auth.post("/duplicates/scan")
    assert r.status_code in (302, 303)
    with app.app_context():
        from app.jobs import runner

        runner.run_pending()
    found = api("viewer").get("/api/v1/duplicates").json["data"]
    assert sorted((p["a"], p["b"]) for p in found) == [(a, c), (b, c)]
    dismissed = api("viewer").get("/api/v1/duplicates?status=dismissed").json["data"]
    assert [(p["id"], p["a"], p["b"]) for p in dismissed] == [(pair, a, b)]
    html = client.get("/duplicates/").data.decode()
    assert "Last scan:" in html


def test_merge_from_the_queue_swaps_the_row_out(auth, client, api, make_contact, make_pair):
    a = make_contact(email="a@example.com", first_name="Al")
    b = make_contact(email="b@example.com", first_name="Al", last_name="Bee")
    c = make_contact(email="c@example.com", first_name="Cy")
    d = make_contact(email="d@example.com", first_name="Cy")
    first = make_pair(a, b, score=95)
    second = make_pair(c, d, score=90)
    auth.login("member")
    html = client.get("/duplicates/").data.decode()
    form = {
        "from": "queue",
        "next": "/duplicates/",
        "pair_id": first,
        "a": a,
        "b": b,
        "version_a": 1,
        "version_b": 1,
    }
    assert f'name="pair_id" value="{first}"' in html
    r = auth.post("/duplicates/merge", form, htmx=True)
    assert r.status_code == 200
    assert "Merged Al Bee &lt;b@example.com&gt; into Al &lt;a@example.com&gt;." in r.data.decode()
    assert "duplicates-changed" in r.headers["HX-Trigger"]
    assert queue_ids(client.get("/duplicates/").data.decode()) == [second]
    assert api("viewer").get(f"/api/v1/contacts/{a}").json["last_name"] == "Bee"
    # the same without htmx: back to the queue with a flash
    r = auth.post("/duplicates/merge", {**form, "pair_id": second, "a": c, "b": d})
    assert r.status_code == 303 and r.headers["Location"] == "/duplicates/"
    assert "Merged" in client.get("/duplicates/").data.decode()
    # a stale row: the contact is gone now
    r = auth.post("/duplicates/merge", {**form, "pair_id": second, "a": c, "b": d}, htmx=True)
    assert r.headers["HX-Reswap"] == "none"
    assert "no longer exists" in r.data.decode()


def test_the_pair_page_shows_both_records_and_highlights_differences(
    auth, client, api, make_contact, make_pair, custom_field
):
    custom_field("size", "number", label="Company size")
    lst = api("member").post("/api/v1/lists", json={"name": "Newsletter"}).json["id"]
    a = make_contact(
        email="ann@example.com",
        first_name="Ann",
        city="Paris",
        tags=["vip"],
        secondary_phones=["+33611111111"],
        custom_fields={"size": 12},
    )
    b = make_contact(email="ann@old.example.com", first_name="Anne", city="Paris", tags=["lead"])
    api("member").post(
        f"/api/v1/lists/{lst}/members", json={"contact_ids": [b], "status": "pending"}
    )
    pair = make_pair(a, b, score=88, reasons=[{"code": "names_similar", "percent": 89}])
    auth.login("member")
    html = client.get(f"/duplicates/{pair}").data.decode()
    assert "names 89% similar" in html and "Score 88" in html
    assert re.search(r'<tr class="differs" data-field="first_name">', html)
    assert re.search(r'<tr class="same" data-field="city">', html)
    assert 'name="f.first_name" value="a"' in html and 'name="f.first_name" value="b"' in html
    assert 'name="f.city"' not in html  # equal values need no choice
    for text in (
        "vip",
        "lead",
        "+33611111111",
        "Company size",
        "12",
        "List: Newsletter",
        "Pending",
    ):
        assert text in html, text
    assert f'action="/duplicates/{pair}/dismiss"' in html
    assert client.get("/duplicates/999999").status_code == 404


def test_merge_with_from_a_contact_page(auth, client, api, make_contact):
    a = make_contact(
        email="zoe@example.com", first_name="Zoë", last_name="Martin", phone="+33612345678"
    )
    b = make_contact(
        email="zoe.martin@gmail.com", first_name="Zoe", last_name="Martin", phone="+33612345678"
    )
    make_contact(email="someone@example.com", first_name="Someone")
    auth.login("member")
    page = client.get(f"/contacts/{a}").data.decode()
    assert f'href="/duplicates/with/{a}"' in page
    full = client.get(f"/duplicates/with/{a}?q=martin").data.decode()
    assert f'href="/duplicates/compare?a={a}&amp;b={b}"' in full
    found = client.get(f"/duplicates/with/{a}?q=zoe", headers={"HX-Request": "true"}).data.decode()
    assert found.startswith('<div id="merge-results">')
    assert "zoe.martin@gmail.com" in found and f"/duplicates/compare?a={a}&amp;b={a}" not in found
    compare = client.get(f"/duplicates/compare?a={a}&b={b}").data.decode()
    assert re.search(r"Score \d+", compare)  # scored by the matcher on the spot
    assert "same phone" in compare
    assert 'name="pair_id"' not in compare
    r = auth.post(
        "/duplicates/merge",
        {"a": a, "b": b, "survivor": "a", "f.first_name": "a", "version_a": 1, "version_b": 1},
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/contacts/{a}")
    c = api("viewer").get(f"/api/v1/contacts/{a}").json
    assert c["first_name"] == "Zoë" and c["secondary_emails"] == ["zoe.martin@gmail.com"]
    r = client.get(f"/duplicates/compare?a={a}&b={a}")
    assert r.status_code == 303  # a contact cannot be merged with itself


def test_bulk_merge_after_a_preview_merges_clusters_into_one_survivor(
    app, auth, client, api, make_contact, make_pair
):
    a = make_contact(email="a@example.com", first_name="Ann")
    b = make_contact(email="b@example.com", first_name="Ann", job_title="CTO")
    c = make_contact(email="c@example.com", first_name="Ann", city="Lyon")
    d = make_contact(email="d@example.com", first_name="Dan")
    e = make_contact(email="e@example.com", first_name="Dan")
    make_pair(a, b, score=96, cluster_id=a)
    make_pair(b, c, score=97, cluster_id=a)
    low = make_pair(d, e, score=90)
    auth.login("member")
    html = client.get("/duplicates/bulk?min_score=95").data.decode()
    assert "2 pairs score 95 or more." in html
    assert "merges 2 contacts away" in html and "into 1 kept record." in html
    assert "b@example.com" in html and "d@example.com" not in html
    max_pair = re.search(r'name="max_pair_id" value="(\d+)"', html).group(1)
    r = auth.post("/duplicates/bulk", {"min_score": 95, "max_pair_id": max_pair})
    assert r.status_code == 303 and "/jobs/" in r.headers["Location"]
    with app.app_context():
        from app.jobs import runner

        runner.run_pending()
    job = client.get(r.headers["Location"]).data.decode()
    assert re.search(r'data-count="merged">2<', job)
    assert re.search(r'data-count="clusters">1<', job)
    viewer = api("viewer")
    survivors = [
        cid for cid in (a, b, c) if viewer.get(f"/api/v1/contacts/{cid}").status_code == 200
    ]
    assert survivors == [a]  # same history: the oldest record is kept
    kept = viewer.get(f"/api/v1/contacts/{a}").json
    assert kept["job_title"] == "CTO" and kept["city"] == "Lyon"
    assert sorted(kept["secondary_emails"]) == ["b@example.com", "c@example.com"]
    assert [p["id"] for p in viewer.get("/api/v1/duplicates").json["data"]] == [low]
    merges = viewer.get("/api/v1/merges").json["data"]
    assert len(merges) == 2 and all(m["survivor"] == a for m in merges)
    html = client.get("/duplicates/bulk?min_score=99").data.decode()
    assert "nothing to merge" in html


def test_a_viewer_cannot_merge_dismiss_or_bulk_merge(auth, client, make_contact, make_pair):
    a = make_contact(email="a@example.com")
    b = make_contact(email="b@example.com")
    pair = make_pair(a, b)
    auth.login("viewer")
    assert client.get(f"/duplicates/{pair}").status_code == 200
    assert "Keep this record" in client.get(f"/duplicates/{pair}").data.decode()
    assert "Merge with…" not in client.get(f"/contacts/{a}").data.decode()
    assert auth.post("/duplicates/merge", {"a": a, "b": b}).status_code == 403
    assert auth.post(f"/duplicates/{pair}/dismiss").status_code == 403
    assert auth.post("/duplicates/bulk", {"min_score": 90, "max_pair_id": pair}).status_code == 403
    assert client.get("/duplicates/bulk").status_code == 403
    assert client.get(f"/duplicates/with/{a}").status_code == 403
    with client.application.app_context():
        from app.dedupe.models import DuplicatePair

        assert db.session.get(DuplicatePair, pair).status == "open"
