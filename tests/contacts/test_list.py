"""The contact list as a person uses it: search as you type, filters, sort, pages,
the lazy count, the column chooser, notices for bad URLs, escaping."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.contacts.conftest import htmx, row_ids


def _people(make_contact):
    ids = {}
    ids["zoe"] = make_contact(
        email="zoe@acme.com", first_name="Zoë", last_name="Ørsted", company="Acme",
        status="active", lead_score=80, tags=["vip", "fr"], source="fair",
    )  # fmt: skip
    ids["adam"] = make_contact(
        email="adam@acme.com", first_name="Adam", last_name="Smith", company="Acme",
        status="inactive", lead_score=20, tags=["vip"], source="web",
    )  # fmt: skip
    ids["bea"] = make_contact(
        email="bea@globex.com", first_name="Béatrice", last_name="Martin", company="Globex",
        status="active", lead_score=55, tags=["fr"], source="web",
    )  # fmt: skip
    ids["carl"] = make_contact(
        email="carl@initech.com", first_name="Carl", last_name="Adams", company="Initech",
        status="bounced", lead_score=95, source="fair",
    )  # fmt: skip
    return ids


def test_search_narrows_the_list_and_htmx_gets_only_the_results(client, auth, make_contact):
    ids = _people(make_contact)
    auth.login("viewer")
    page = client.get("/contacts/")
    assert sorted(row_ids(page.data)) == sorted(ids.values())
    assert b'hx-trigger="input changed delay:250ms, search"' in page.data

    # Accents and case do not matter; every word must start a word of the contact.
    full = client.get("/contacts/?q=zoe")
    assert row_ids(full.data) == [ids["zoe"]]
    assert b"<html" in full.data and 'value="zoe"' in full.data.decode()

    fragment = htmx(client, "/contacts/?q=acme")
    assert sorted(row_ids(fragment.data)) == sorted([ids["zoe"], ids["adam"]])
    assert b"<html" not in fragment.data and b'id="filters"' not in fragment.data
    assert "HX-Request" in fragment.headers.get("Vary", "")

    assert row_ids(htmx(client, "/contacts/?q=ada").data) == [ids["carl"], ids["adam"]]
    assert row_ids(htmx(client, "/contacts/?q=globex+mart").data) == [ids["bea"]]
    assert row_ids(htmx(client, "/contacts/?q=nobodyhere").data) == []
    assert b"No contacts match." in htmx(client, "/contacts/?q=nobodyhere").data


def test_filters_combine(client, auth, make_contact):
    ids = _people(make_contact)
    auth.login("viewer")

    def rows(query: str) -> set[int]:
        return set(row_ids(htmx(client, "/contacts/?" + query).data))

    assert rows("status=active") == {ids["zoe"], ids["bea"]}
    assert rows("status=active&tag=vip") == {ids["zoe"]}
    assert rows("tag=vip&tag=fr") == {ids["zoe"]}
    assert rows("status=active&status=bounced&score_min=60") == {ids["zoe"], ids["carl"]}
    assert rows("score_min=50&score_max=90") == {ids["zoe"], ids["bea"]}
    assert rows("source=web&tag=fr") == {ids["bea"]}
    assert rows("q=acme&status=inactive") == {ids["adam"]}
    assert rows("consent=unknown&source=fair") == {ids["zoe"], ids["carl"]}
    assert rows("consent=opted_in") == set()
    assert rows("created_from=2000-01-01&created_to=2999-12-31") == set(ids.values())
    assert rows("created_to=2000-01-01") == set()

    # The filter panel shows the choices that are applied.
    page = client.get("/contacts/?status=active&tag=vip&score_min=50").data.decode()
    assert 'name="status" value="active" checked' in page
    assert '<option value="vip" selected>' in page
    assert 'name="score_min" min="0" max="100" value="50"' in page


def test_filter_by_company_owner_and_custom_fields(
    app, client, auth, users, make_contact, custom_field
):
    custom_field("size", "number", "Team size")
    custom_field("plan", "select", "Plan", options=["free", "pro"])
    custom_field("renewal", "date", "Renewal")
    custom_field("partner", "boolean", "Partner")
    a = make_contact(
        email="a@x.com", company="Acme",
        custom_fields={"size": 12, "plan": "pro", "renewal": "2025-06-01", "partner": True},
    )  # fmt: skip
    b = make_contact(
        email="b@x.com", company="Other", owner=users["admin"].id,
        custom_fields={"size": 3, "plan": "free", "renewal": "2024-01-15", "partner": False},
    )  # fmt: skip
    auth.login("member")
    from app.companies.models import Company
    from app.extensions import db

    with app.app_context():
        acme = db.session.scalar(db.select(Company.id).where(Company.name == "Acme"))

    def rows(query: str) -> set[int]:
        response = htmx(client, "/contacts/?" + query)
        assert response.status_code == 200
        return set(row_ids(response.data))

    assert rows(f"company={acme}") == {a}
    assert rows(f"owner={users['admin'].id}") == {b}
    assert rows("owner=me") == {a}
    assert rows("cf.size.min=10") == {a}
    assert rows("cf.size.max=10&cf.plan=free") == {b}
    assert rows("cf.plan=pro&cf.plan=free") == {a, b}
    assert rows("cf.renewal.from=2025-01-01") == {a}
    assert rows("cf.partner=false") == {b}
    page = client.get("/contacts/").data.decode()
    assert 'name="cf.size.min"' in page and 'name="cf.renewal.from"' in page
    assert '<option value="pro">pro</option>' in page


def test_sort_by_column_headers(client, auth, make_contact):
    ids = _people(make_contact)
    auth.login("viewer")

    def order(query: str) -> list[int]:
        return row_ids(htmx(client, "/contacts/?" + query).data)

    assert order("sort=lead_score") == [ids["adam"], ids["bea"], ids["zoe"], ids["carl"]]
    assert order("sort=-lead_score") == [ids["carl"], ids["zoe"], ids["bea"], ids["adam"]]
    assert order("sort=last_name") == [ids["carl"], ids["bea"], ids["adam"], ids["zoe"]]
    assert order("sort=email")[0] == ids["adam"]
    # The default is newest first.
    assert order("") == [ids["carl"], ids["bea"], ids["adam"], ids["zoe"]]
    # The header of the current sort links to the opposite direction.
    html = client.get("/contacts/?sort=lead_score").data.decode()
    assert 'aria-sort="ascending"' in html
    assert 'href="/contacts/?sort=-lead_score"' in html


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url.replace("&amp;", "&")).query)


def _link(html: str, label: str) -> str | None:
    import re

    match = re.search(r'<a href="([^"]+)"[^>]*>' + re.escape(label), html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_next_page_by_cursor_has_no_overlap_and_leads_back(client, auth, make_contact):
    created = [make_contact(email=f"p{i:02d}@pages.com", lead_score=i % 7) for i in range(23)]
    auth.login("viewer")
    seen: list[int] = []
    url = "/contacts/?limit=10&sort=lead_score"
    pages = []
    while url:
        html = htmx(client, url).data.decode()
        ids = row_ids(html)
        pages.append((url, ids))
        seen.extend(ids)
        url = _link(html, "Next page")
    assert [len(ids) for _, ids in pages] == [10, 10, 3]
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == set(created)
    # Sorted by lead score then id across the pages.
    assert seen == sorted(seen, key=lambda i: ((i - created[0]) % 7, i))

    third = htmx(client, pages[2][0]).data.decode()
    assert _query(pages[2][0])["cursor"]
    previous = _link(third, "\u2039 Previous page")
    assert row_ids(htmx(client, previous).data) == pages[1][1]
    first = _link(third, "« First page")
    assert "cursor" not in _query(first)
    assert row_ids(htmx(client, first).data) == pages[0][1]
    # A bookmarked page URL shows the same rows as a full page.
    assert row_ids(client.get(pages[1][0]).data) == pages[1][1]


def test_live_count_is_loaded_lazily_with_the_same_filters(client, auth, make_contact):
    _people(make_contact)
    auth.login("viewer")
    html = client.get("/contacts/?status=active&limit=1").data.decode()
    assert row_ids(html).__len__() == 1
    assert 'hx-get="/contacts/count?status=active" hx-trigger="load"' in html
    assert b"2 contacts" in htmx(client, "/contacts/count?status=active").data
    assert b"4 contacts" in htmx(client, "/contacts/count").data
    assert b"1 contact<" in htmx(client, "/contacts/count?q=globex").data


def test_column_chooser_is_in_the_url_and_remembered(client, auth, make_contact, custom_field):
    custom_field("size", "number", "Team size")
    make_contact(email="c@x.com", job_title="Buyer", city="Lyon", custom_fields={"size": 7})
    auth.login("viewer")
    html = client.get("/contacts/?cols=name,job_title,cf.size").data.decode()
    assert (
        "Job title" in html
        and "Team size" in html
        and "Buyer" in html
        and ">7<" in html.replace(" ", "").replace("\n", "")
    )
    assert "<th>Tags</th>" not in html
    # Remembered in the session for the next visit without cols=.
    again = client.get("/contacts/").data.decode()
    assert "Team size" in again and "<th>Tags</th>" not in again
    # Sort links keep the chosen columns.
    assert "cols=name%2Cjob_title%2Ccf.size" in html
    # Unknown columns are ignored with a notice.
    odd = client.get("/contacts/?cols=name,email,shoe_size").data.decode()
    assert "Ignored unknown column &#34;shoe_size&#34;" in odd


def test_unknown_filters_and_sorts_are_ignored_with_a_notice(client, auth, make_contact):
    ids = _people(make_contact)
    auth.login("viewer")
    response = client.get("/contacts/?colour=blue&sort=shoe_size&status=asleep&score_min=high")
    assert response.status_code == 200
    html = response.data.decode()
    assert "Ignored unknown filter &#34;colour&#34;" in html
    assert "shoe_size" in html and "asleep" in html
    assert sorted(row_ids(html)) == sorted(ids.values())
    fragment = htmx(client, "/contacts/?cf.nothing=1&cursor=garbage")
    assert fragment.status_code == 200
    assert "cf.nothing" in fragment.data.decode()
    assert client.get("/contacts/count?what=ever").status_code == 200


def test_archived_contacts_are_hidden_unless_asked_for(app, client, auth, make_contact):
    from app.contacts import bulk
    from app.extensions import db

    kept = make_contact(email="kept@x.com")
    gone = make_contact(email="gone@x.com")
    with app.app_context():
        bulk.archive([gone])
        db.session.commit()
    auth.login("viewer")
    assert row_ids(client.get("/contacts/").data) == [kept]
    assert sorted(row_ids(client.get("/contacts/?archived=include").data)) == [kept, gone]
    only = client.get("/contacts/?archived=only").data.decode()
    assert row_ids(only) == [gone] and "Archived" in only


def test_html_in_fields_shows_as_text(client, auth, make_contact):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    cid = make_contact(
        email="evil@x.com", first_name=evil, last_name="<b>bold</b>", company=evil,
        job_title=evil, tags=["<i>tag</i>"], source=evil,
    )  # fmt: skip
    auth.login("member")
    for url in ("/contacts/?cols=name,company,job_title,tags,source", f"/contacts/{cid}"):
        html = client.get(url).data.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<b>bold</b>" not in html and "<i>tag</i>" not in html
        assert "&lt;script&gt;" in html
    search = htmx(client, "/contacts/?q=" + evil).data.decode()
    assert "<script>alert" not in search


def test_notices_escape_what_the_url_carried(client, auth, make_contact):
    auth.login("viewer")
    html = client.get("/contacts/?%3Cscript%3Ealert(1)%3C%2Fscript%3E=1").data.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
