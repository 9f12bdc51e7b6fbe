"""Reading a timeline: every kind shown sensibly, newest first; filtered by several kinds
with the filter in the URL; loaded a page of 25 at a time as you scroll, never losing or
repeating an entry even when many share a timestamp; a company's timeline; and a page
costs the same queries whatever it holds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.timeline.models import Activity
from tests.queries import counting_queries
from tests.timeline.conftest import (
    activities_of,
    contact_row,
    entry_ids,
    entry_kinds,
    htmx,
    more_url,
)


def _walk(client, first_url: str) -> tuple[list[list[int]], list[str]]:
    """Every page of a timeline the way the browser gets them: the list, then each page
    its "load more" sentinel asks for. Returns the ids per page and the URLs asked."""
    pages: list[list[int]] = []
    urls = [first_url]
    html = htmx(client, first_url).data.decode()
    while True:
        pages.append(entry_ids(html))
        url = more_url(html)
        if url is None:
            return pages, urls
        urls.append(url)
        response = htmx(client, url)
        assert response.status_code == 200
        html = response.data.decode()
        assert '<div id="timeline-body"' not in html  # appended items, not a new list


def test_every_kind_is_shown_with_its_details(app, client, auth, make_contact, add_activities):
    from app.pipeline.models import Deal, Stage

    cid = make_contact(email="ann@acme.com", first_name="Ann")
    with app.app_context():
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        deal = Deal(title="Big renewal", stage_id=stage.id, contact_id=cid)
        db.session.add(deal)
        db.session.commit()
        deal_id = deal.id
    base = datetime(2024, 1, 1, 9, 0)
    items = [
        {"kind": "email_sent", "subject": "Proposal attached", "body": "Hi Ann, " * 200},
        {"kind": "email_received", "subject": "Re: Proposal"},
        {"kind": "email_opened", "subject": "Proposal attached"},
        {"kind": "email_clicked", "subject": "Proposal", "data": {"url": "https://acme.example/p"}},
        {"kind": "email_bounced", "subject": "Bounce", "data": {"reason": "mailbox full"}},
        {"kind": "complaint", "subject": "Marked as spam"},
        {"kind": "unsubscribe", "subject": "Newsletter"},
        {"kind": "call", "data": {"direction": "out", "duration_minutes": 3, "outcome": "busy"}},
        {"kind": "form_submit", "subject": "Contact form", "data": {"message": "Call me"}},
        {"kind": "custom_event", "name": "trial_started", "value": 14},
        {"kind": "score_threshold", "subject": "Reached 80", "data": {"threshold": 80}},
        {"kind": "deal_created", "subject": "Lead"},
        {"kind": "deal_stage_changed", "subject": "Lead → Proposal"},
        {"kind": "deal_won", "subject": "Won"},
        {"kind": "merge", "subject": "Merged ann@old.example into this contact"},
    ]
    for i, item in enumerate(items):
        item["occurred_at"] = (base + timedelta(hours=i)).isoformat()
    ids = add_activities(cid, items)
    with app.app_context():
        db.session.execute(
            update(Activity)
            .where(Activity.kind.like("deal_%"))
            .values(deal_id=deal_id)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    auth.login("viewer")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert entry_ids(page) == list(reversed(ids))  # newest first
    assert "Proposal attached" in page and "Hi Ann, Hi Ann," in page and "Re: Proposal" in page
    assert "Email link clicked" in page and "https://acme.example/p" in page
    assert "mailbox full" in page and "Spam complaint" in page and "Unsubscribed" in page
    assert "3 minutes" in page and "Busy" in page and "Outgoing" in page
    assert "Form submitted" in page and "Call me" in page
    assert "trial_started" in page and ">14<" in page
    assert "Lead score threshold" in page and "Reached 80" in page
    timeline = page.split('<section id="timeline"')[1]
    assert timeline.count(">Big renewal<") == 3 and "Lead → Proposal" in page and "Deal won" in page
    assert "Merged ann@old.example into this contact" in page
    assert "Hi Ann, " * 100 not in page  # a long email body is clipped
    assert "Edit</a>" not in page and "Delete</a>" not in page  # a viewer changes nothing


def _seed(add_activities, cid: int, kinds: list[str], start: datetime, step=timedelta(minutes=1)):
    items = []
    for i, kind in enumerate(kinds):
        item = {"kind": kind, "occurred_at": (start + i * step).isoformat(), "subject": f"#{i}"}
        if kind == "custom_event":
            item["name"] = "visit"
        items.append(item)
    return add_activities(cid, items)


def test_filter_by_several_kinds_kept_in_the_url(app, client, auth, make_contact, add_activities):
    cid = make_contact(email="ann@acme.com")
    kinds = ["note", "call", "email_sent", "meeting", "email_received", "custom_event", "call"]
    ids = dict(
        zip(ids_ := _seed(add_activities, cid, kinds, datetime(2024, 1, 1)), kinds, strict=True)
    )
    auth.login("member")
    # The filter form changes the list in place and puts the filter in the address bar.
    response = htmx(
        client, f"/timeline/contacts/{cid}?kinds=call", headers={"HX-Trigger": "timeline-filter"}
    )
    assert response.headers["HX-Push-Url"] == f"/contacts/{cid}?kinds=call"
    assert entry_kinds(response.data) == ["call", "call"]
    # Two kinds at once, as the checkboxes send them; "email" stands for every email kind.
    both = htmx(
        client,
        f"/timeline/contacts/{cid}?kinds=call&kinds=email",
        headers={"HX-Trigger": "timeline-filter"},
    )
    assert both.headers["HX-Push-Url"] == f"/contacts/{cid}?kinds=call,email"
    assert entry_kinds(both.data) == ["call", "email_received", "email_sent", "call"]
    # A refresh of the list (after logging something) keeps its filter, without a new URL.
    body = both.data.decode()
    assert f'hx-get="/timeline/contacts/{cid}?kinds=call,email"' in body
    refresh = htmx(client, f"/timeline/contacts/{cid}?kinds=call,email")
    assert "HX-Push-Url" not in refresh.headers
    # Reloading the pushed URL shows the same entries with the same chips ticked.
    page = client.get(f"/contacts/{cid}?kinds=call,email").data.decode()
    assert entry_kinds(page) == ["call", "email_received", "email_sent", "call"]
    assert 'name="kinds" value="call" checked' in page
    assert 'name="kinds" value="email" checked' in page
    assert 'name="kinds" value="note" checked' not in page
    # Raw activity kinds (as the API names them) and unknown words are understood / ignored.
    raw = client.get(f"/contacts/{cid}?kinds=email_sent,bogus").data.decode()
    assert entry_kinds(raw) == ["email_received", "email_sent"]
    nothing = htmx(client, f"/timeline/contacts/{cid}?kinds=task").data.decode()
    assert "Nothing of these kinds yet." in nothing and entry_ids(nothing) == []
    everything = client.get(f"/contacts/{cid}?kinds=").data.decode()
    assert sorted(entry_ids(everything)) == sorted(ids_)
    assert set(ids.values()) == set(kinds)


@pytest.mark.parametrize(
    ("count", "pages"), [(0, []), (25, [25]), (26, [25, 1]), (60, [25, 25, 10])]
)
def test_pages_of_25_at_the_boundaries(
    app, client, auth, make_contact, add_activities, count, pages
):
    cid = make_contact(email="ann@acme.com")
    ids = _seed(add_activities, cid, ["note"] * count, datetime(2024, 1, 1)) if count else []
    auth.login("member")
    got, _urls = _walk(client, f"/timeline/contacts/{cid}")
    if not count:
        assert got == [[]]
        return
    assert [len(p) for p in got] == pages
    assert [i for p in got for i in p] == list(reversed(ids))


def test_paging_with_equal_timestamps_loses_and_repeats_nothing(
    app, client, auth, make_contact, add_activities
):
    cid = make_contact(email="ann@acme.com")
    same = datetime(2024, 6, 1, 12, 0)
    # 70 activities in 4 timestamps: page edges fall inside runs of equal occurred_at.
    kinds = ["note", "call", "email_sent", "meeting"] * 17 + ["note", "call"]
    ids = []
    for n, chunk in enumerate((kinds[:30], kinds[30:31], kinds[31:60], kinds[60:])):
        ids += _seed(add_activities, cid, chunk, same - timedelta(hours=n), step=timedelta(0))
    rows = activities_of(app, cid)
    expected = [a.id for a in sorted(rows, key=lambda a: (a.occurred_at, a.id), reverse=True)]
    auth.login("member")
    got, urls = _walk(client, f"/timeline/contacts/{cid}")
    flat = [i for p in got for i in p]
    assert [len(p) for p in got] == [25, 25, 20]
    assert flat == expected and len(set(flat)) == 70
    # The same with a filter: the cursor keeps it.
    calls, urls = _walk(client, f"/timeline/contacts/{cid}?kinds=call,meeting")
    want = [a.id for a in sorted(rows, key=lambda a: (a.occurred_at, a.id), reverse=True)
            if a.kind in ("call", "meeting")]  # fmt: skip
    assert [i for p in calls for i in p] == want and all("kinds=call,meeting" in u for u in urls)
    # Without JavaScript, "Older activities" is a link to the contact page at that cursor.
    page = client.get(f"/contacts/{cid}").data.decode()
    older = page.split('<li class="timeline-more"')[1].split('<a href="')[1].split('"')[0]
    older = older.replace("&amp;", "&")
    assert older.startswith(f"/contacts/{cid}?cursor=") and older.endswith("#timeline")
    second = client.get(older.split("#")[0]).data.decode()
    assert entry_ids(second) == expected[25:50] and "Back to the newest" in second
    # A cursor that is not one of ours starts from the newest.
    assert entry_ids(client.get(f"/contacts/{cid}?cursor=garbage").data)[:1] == expected[:1]
    fragment = client.get(f"/timeline/contacts/{cid}?cursor=x")
    assert fragment.status_code == 303 and "cursor=x" in fragment.headers["Location"]


def test_a_company_timeline_holds_its_people_and_its_own(
    app, client, auth, make_contact, add_activities
):
    from app.companies.models import Company

    ann = make_contact(email="ann@acme.com", first_name="Ann", company="Acme")
    bob = make_contact(email="bob@acme.com", first_name="Bob", company="Acme")
    eve = make_contact(email="eve@globex.com", first_name="Eve", company="Globex")
    a1, a2 = _seed(add_activities, ann, ["email_sent", "note"], datetime(2024, 1, 1))
    (b1,) = _seed(add_activities, bob, ["call"], datetime(2024, 1, 2))
    (e1,) = _seed(add_activities, eve, ["call"], datetime(2024, 1, 3))
    with app.app_context():
        acme = db.session.scalar(select(Company.id).where(Company.name == "Acme"))
    auth.login("member")
    # Logged by hand on Eve while she was at Acme: stamped with Acme, kept there.
    with app.app_context():
        db.session.execute(update(Activity).where(Activity.id == e1).values(company_id=acme))
        db.session.commit()
    page = client.get(f"/companies/{acme}").data.decode()
    assert entry_ids(page) == [e1, b1, a2, a1]
    assert f'<a class="about" href="/contacts/{ann}">Ann</a>' in page
    assert f'<a class="about" href="/contacts/{eve}">Eve</a>' in page
    calls = htmx(client, f"/timeline/companies/{acme}?kinds=call").data.decode()
    assert entry_ids(calls) == [e1, b1]
    # A company's timeline pages like a contact's.
    many = _seed(add_activities, bob, ["note"] * 30, datetime(2023, 1, 1))
    got, _urls = _walk(client, f"/timeline/companies/{acme}")
    assert [i for p in got for i in p] == [e1, b1, a2, a1, *reversed(many)]
    logged = auth.post(f"/timeline/contacts/{ann}/log/note", {"body": "Met at the fair"})
    assert logged.status_code == 303
    assert "Met at the fair" in client.get(f"/companies/{acme}").data.decode()
    # Deleted from the company page: the entry goes, the company's timeline refreshes.
    note = max(a.id for a in activities_of(app, ann))
    gone = auth.post(f"/timeline/activities/{note}/delete", {"view": "company"}, htmx=True)
    assert gone.data == b"" and json.loads(gone.headers["HX-Trigger"]) == {"timeline-changed": None}
    assert "Met at the fair" not in client.get(f"/companies/{acme}").data.decode()
    assert contact_row(app, ann).company_id == acme
    redirect = client.get(f"/timeline/companies/{acme}?kinds=call")
    assert redirect.status_code == 303
    assert redirect.headers["Location"].endswith(f"/companies/{acme}?kinds=call#timeline")


def _queries(app, client, url: str) -> tuple[int, str]:
    with counting_queries(app) as statements:
        response = htmx(client, url)
    assert response.status_code == 200
    return len(statements), response.data.decode()


def test_a_page_costs_the_same_queries_whatever_it_holds(
    app, client, auth, users, make_contact, add_activities
):
    """Authors, deals, attendees and whose activity it is are loaded in one query each."""
    from app.pipeline.models import Deal, Stage

    small = make_contact(email="small@acme.com", company="Acme")
    big = make_contact(email="big@acme.com", company="Acme")
    people = [make_contact(email=f"p{i}@acme.com", first_name=f"P{i}") for i in range(6)]
    auth.login("member")
    with app.app_context():
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        deals = [Deal(title=f"Deal {i}", stage_id=stage.id) for i in range(5)]
        db.session.add_all(deals)
        db.session.commit()
        deal_ids = [d.id for d in deals]
    # A short timeline with one of everything that needs loading: an author, a meeting
    # with an attendee, a deal.
    add_activities(
        small,
        [{"kind": "meeting", "occurred_at": "2024-01-01T10:00:00", "data": {"attendees": [people[0]]}},
         {"kind": "deal_stage_changed", "occurred_at": "2024-01-01T11:00:00"},
         {"kind": "note", "occurred_at": "2024-01-01T12:00:00"}],
    )  # fmt: skip
    with app.app_context():
        db.session.execute(
            update(Activity).where(Activity.contact_id == small).values(deal_id=deal_ids[0])
        )
        db.session.commit()
    kinds = ["note", "call", "meeting", "field_change", "deal_stage_changed", "email_sent"]
    for role in ("member", "admin", "viewer"):
        items = []
        for i in range(40):
            kind = kinds[i % len(kinds)]
            item = {"kind": kind, "occurred_at": datetime(2024, 2, 1, 0, i).isoformat()}
            if kind == "meeting":
                item["data"] = {"attendees": people[i % 6 :][:3]}
            if kind == "field_change":
                item["data"] = {
                    "changes": {"status": ["active", "replied"], "tags": {"added": ["x"]}}
                }
            items.append(item)
        add_activities(big, items, role=role)
    with app.app_context():
        stage_changes = list(
            db.session.scalars(select(Activity.id).where(Activity.kind == "deal_stage_changed"))
        )
        for n, aid in enumerate(stage_changes):
            db.session.execute(
                update(Activity).where(Activity.id == aid).values(deal_id=deal_ids[n % 5])
            )
        db.session.commit()
    for url_of in (
        lambda cid: f"/timeline/contacts/{cid}",
        lambda cid: f"/timeline/contacts/{cid}?kinds=note,call,meeting,field_change,deal",
    ):
        htmx(client, url_of(small))  # warm up
        few, few_html = _queries(app, client, url_of(small))
        many, many_html = _queries(app, client, url_of(big))
        assert len(entry_ids(few_html)) == 3 and len(entry_ids(many_html)) == 25
        assert "Deal " in many_html and ">P2</a>" in many_html
        assert few == many, (few, many)
        assert many <= 10, many
        # The next page too.
        nxt, nxt_html = _queries(app, client, more_url(many_html))
        assert len(entry_ids(nxt_html)) == 25 and nxt == many
    acme = contact_row(app, big).company_id
    htmx(client, f"/timeline/companies/{acme}")
    company, company_html = _queries(app, client, f"/timeline/companies/{acme}")
    assert len(entry_ids(company_html)) == 25 and company <= 11, company


def test_the_timeline_refreshes_itself_after_an_inline_edit(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert 'hx-trigger="timeline-changed from:body, contact-changed from:body"' in page
    form = htmx(client, f"/contacts/{cid}/groups/basic/edit").data.decode()
    version = form.split('name="version" value="')[1].split('"')[0]
    saved = auth.post(
        f"/contacts/{cid}/groups/basic",
        {"version": version, "email": "ann@acme.com", "first_name": "Annie", "status": "active",
         "lead_score": "0"},
        htmx=True,
    )  # fmt: skip
    assert "contact-changed" in json.loads(saved.headers["HX-Trigger"])
    listing = htmx(client, f"/timeline/contacts/{cid}").data.decode()
    assert entry_kinds(listing) == ["field_change"] and "Annie" in listing
