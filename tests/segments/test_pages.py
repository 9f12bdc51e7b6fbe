"""Segment pages through the test client: build a tree with the builder's form posts,
see the live count (and errors pointing at their row), save, edit, delete; a segment
as a contact list (rows, count, bulk actions, export); "save filter as segment"."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.contacts.service import create_contact
from app.extensions import db
from app.lists.models import ContactList, ListMembership
from app.segments.models import Segment
from app.timeline.models import Activity
from app.timeutil import utcnow
from tests.contacts.conftest import row_ids


@pytest.fixture
def people(app, users):
    """Six contacts: {first name: id}."""
    from app.auth.models import User

    rows = [
        ("ann@acme.com", "Ann", "active", ["vip"], 80, "FR"),
        ("bob@acme.com", "Bob", "active", ["vip", "partner"], 40, "FR"),
        ("cat@globex.com", "Cat", "replied", [], 90, "DE"),
        ("dan@globex.com", "Dan", "inactive", ["vip"], 10, "DE"),
        ("eve@hooli.com", "Eve", "active", [], 55, None),
        ("fay@hooli.com", "Fay", "bounced", ["partner"], 0, "FR"),
    ]
    out = {}
    with app.app_context():
        member = db.session.get(User, users["member"].id)
        for email, first, status, tags, score, country in rows:
            contact = create_contact(
                {
                    "email": email,
                    "first_name": first,
                    "status": status,
                    "tags": tags,
                    "lead_score": score,
                    "country": country,
                },
                actor=member,
                via="test",
            )
            out[first] = contact.id
        now = utcnow()
        for first, days in (("Ann", 2), ("Ann", 5), ("Cat", 1), ("Dan", 60)):
            db.session.add(
                Activity(
                    contact_id=out[first],
                    kind="email_opened",
                    occurred_at=now - timedelta(days=days),
                )
            )
        db.session.commit()
    return out


def hx(auth, path: str, data: dict):
    return auth.post(path, data, htmx=True)


def rows_form(*conditions: dict, kind: str = "all") -> dict:
    """Builder form fields for ALL/ANY of flat field conditions {"field", "op", "value"}."""
    data: dict = {"n-kind": kind}
    for i, cond in enumerate(conditions):
        data[f"n-{i}-kind"] = cond.get("kind", "field")
        for key, value in cond.items():
            if key != "kind":
                data[f"n-{i}-{key}"] = value
    return data


def live_count(auth, data: dict) -> str:
    response = hx(auth, "/segments/preview", data)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def total(html: str) -> int | None:
    match = re.search(r'id="seg-total">(\d+) contacts?<', html)
    return int(match.group(1)) if match else None


def save(auth, name: str, data: dict, path: str = "/segments/new"):
    return auth.post(path, {"name": name, "timezone": "UTC", **data})


def segment_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/segments/(\d+)$", response.headers["Location"]).group(1))


def test_build_a_tree_step_by_step_with_a_live_count(app, auth, people):
    auth.login("member")
    page = auth.client.get("/segments/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="n-0-field"' in html and 'name="n-kind"' in html
    assert 'hx-post="/segments/preview"' in html

    # One condition: status is active.
    data = rows_form({"field": "status", "op": "eq", "value": "active"})
    assert total(live_count(auth, data)) == 3

    # Add a group: it comes as ANY, holding one new condition.
    response = hx(auth, "/segments/builder", {**data, "_action": "add-group:n"})
    assert response.status_code == 200
    assert "segment-changed" in response.headers["HX-Trigger"]
    html = response.get_data(as_text=True)
    assert re.search(
        r'name="n-1-kind"[^>]*>\s*<option value="all">[^<]*</option>\s*'
        r'<option value="any" selected',
        html,
    )
    assert 'name="n-1-0-field"' in html
    assert "<html" not in html  # the rows block only

    # Fill the group: tagged vip OR score at least 85; the count follows.
    data.update(
        {
            "n-1-kind": "any",
            "n-1-0-kind": "field",
            "n-1-0-field": "tags",
            "n-1-0-op": "contains",
            "n-1-0-value": "vip",
            "n-1-1-kind": "field",
            "n-1-1-field": "lead_score",
            "n-1-1-op": "gte",
            "n-1-1-value": "85",
        }
    )
    assert total(live_count(auth, data)) == 2  # Ann, Bob
    # Switch the top to ANY: active, or vip, or score >= 85.
    assert total(live_count(auth, {**data, "n-kind": "any"})) == 5
    # NOT on the group: active and neither vip nor score >= 85.
    assert total(live_count(auth, {**data, "n-1-not": "1"})) == 1  # Eve

    # Activity condition: opened an email at least twice in the last 30 days.
    activity = rows_form(
        {
            "kind": "activity",
            "activity": "email_opened",
            "count_op": "gte",
            "count_value": "2",
            "within_days": "30",
        }
    )
    assert total(live_count(auth, activity)) == 1
    activity["n-0-count_value"] = "1"
    assert total(live_count(auth, activity)) == 2

    # Without JavaScript the same buttons reload the whole page, counted.
    response = auth.post("/segments/builder", {**data, "_action": "refresh"})
    html = response.get_data(as_text=True)
    assert "<html" in html and total(html) == 2
    response = auth.post("/segments/builder", {**data, "_action": "add-field:n-1"})
    html = response.get_data(as_text=True)
    assert 'name="n-1-2-field"' in html
    assert 'data-error-row="n-1-2"' in html  # the new condition needs a value

    # Remove the first condition: rows are renumbered.
    response = hx(auth, "/segments/builder", {**data, "_action": "remove:n-0"})
    html = response.get_data(as_text=True)
    assert 'name="n-0-kind"' in html and 'name="n-1-kind"' not in html
    assert 'name="n-0-1-value"' in html

    # Save.
    response = save(auth, "Active VIPs", data)
    new_id = segment_id(response)
    with app.app_context():
        segment = db.session.get(Segment, new_id)
        assert segment.conditions == {
            "all": [
                {"field": "status", "op": "eq", "value": "active"},
                {
                    "any": [
                        {"field": "tags", "op": "contains", "value": "vip"},
                        {"field": "lead_score", "op": "gte", "value": 85},
                    ]
                },
            ]
        }
        assert (
            db.session.scalar(
                select(AuditEntry.action).where(
                    AuditEntry.entity_type == "segment", AuditEntry.entity_id == new_id
                )
            )
            == "create"
        )
    page = auth.client.get(f"/segments/{new_id}").get_data(as_text=True)
    assert (
        "Segment &#34;Active VIPs&#34; saved." in page
        or "Segment &quot;Active VIPs&quot; saved." in page
    )
    assert 'value="Active VIPs"' in page


def test_errors_name_their_path_and_row_and_nothing_is_saved(app, auth, people):
    auth.login("member")
    data = rows_form(
        {"field": "email", "op": "is_set"},
        {"field": "lead_score", "op": "gt", "value": "lots"},
    )
    html = live_count(auth, data)
    assert total(html) is None
    assert "expected a number" in html
    assert "<code>all[1].value</code>" in html
    assert 'data-error-row="n-1"' in html

    response = save(auth, "Broken", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="seg-cond has-error" data-row="n-1"' in html
    assert "Not saved: expected a number <code>all[1].value</code>" in html
    assert 'value="lots"' in html  # what was typed stays

    response = save(auth, "  ", rows_form({"field": "email", "op": "is_set"}))
    assert response.status_code == 422
    assert "A segment needs a name." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Segment.id)) is None


def test_value_inputs_and_operators_fit_the_field(app, auth, people):
    auth.login("member")

    def row(field: str, op: str = "") -> str:
        data = rows_form({"field": field, "op": op, "value": ""})
        response = hx(auth, "/segments/builder", {**data, "_action": "refresh"})
        return response.get_data(as_text=True)

    html = row("lead_score", "contains")  # an operator of another type: the first of numbers
    assert '<option value="eq" selected' in html and 'value="between"' in html
    assert 'value="starts_with"' not in html
    assert re.search(r'<input type="number" name="n-0-value"', html)
    html = row("lead_score", "between")
    assert 'name="n-0-value2"' in html
    html = row("created_at", "after")
    assert re.search(r'<input type="date" name="n-0-value"', html)
    html = row("created_at", "within_last_days")
    assert re.search(r'<input type="number" name="n-0-value" class="seg-value seg-days"', html)
    html = row("tags", "contains_any")
    assert re.search(r'<select name="n-0-value"[^>]*multiple', html)
    assert '<option value="partner">partner</option>' in html
    html = row("status", "eq")
    assert '<option value="replied">Replied</option>' in html
    html = row("owner", "eq")
    assert re.search(r'<option value="\d+">Member</option>', html)
    html = row("email", "contains")
    assert re.search(r'<input type="text" name="n-0-value"', html)
    html = row("custom.nope", "eq")  # unknown: back to the default field
    assert '<option value="email" selected' in html


def test_edit_then_delete(app, auth, people):
    auth.login("member")
    new_id = segment_id(
        save(auth, "French", rows_form({"field": "country", "op": "eq", "value": "fr"}))
    )
    page = auth.client.get(f"/segments/{new_id}").get_data(as_text=True)
    assert '<option value="country" selected' in page
    assert 'value="FR"' in page  # stored normalised
    assert f'href="/contacts/?segment={new_id}"' in page
    assert "/exports/?query=segment%3D" in page

    changed = rows_form({"field": "country", "op": "eq", "value": "DE"})
    response = save(auth, "Germans", {**changed, "segment_id": str(new_id)}, f"/segments/{new_id}")
    assert segment_id(response) == new_id
    with app.app_context():
        segment = db.session.get(Segment, new_id)
        assert segment.name == "Germans"
        assert segment.conditions["all"][0]["value"] == "DE"

    listing = auth.client.get("/segments/").get_data(as_text=True)
    assert "Germans" in listing
    assert f'hx-get="/segments/{new_id}/count" hx-trigger="revealed"' in listing
    count = auth.client.get(f"/segments/{new_id}/count").get_data(as_text=True)
    assert f'href="/contacts/?segment={new_id}">2</a>' in count

    assert auth.client.get(f"/segments/{new_id}/delete").status_code == 200
    response = auth.post(f"/segments/{new_id}/delete")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Segment, new_id) is None
    assert auth.client.get(f"/segments/{new_id}").status_code == 404


def test_viewers_can_look_and_try_but_not_save(app, auth, people):
    auth.login("member")
    new_id = segment_id(
        save(auth, "Vips", rows_form({"field": "tags", "op": "contains", "value": "vip"}))
    )
    auth.logout()
    auth.token = None
    auth.login("viewer")
    assert auth.client.get("/segments/").status_code == 200
    page = auth.client.get(f"/segments/{new_id}").get_data(as_text=True)
    assert "Save segment" not in page and "saving a segment needs" in page
    data = rows_form({"field": "tags", "op": "contains", "value": "vip"})
    assert total(live_count(auth, data)) == 3
    assert hx(auth, "/segments/builder", {**data, "_action": "add-field:n"}).status_code == 200
    assert save(auth, "Mine", data).status_code == 403
    assert save(auth, "Renamed", data, f"/segments/{new_id}").status_code == 403
    assert auth.post(f"/segments/{new_id}/delete").status_code == 403
    assert auth.client.get(f"/contacts/?segment={new_id}").status_code == 200


def test_contact_list_narrowed_to_a_segment(app, auth, api, people):
    auth.login("member")
    data = rows_form(
        {"field": "tags", "op": "contains", "value": "vip"},
        {"field": "country", "op": "eq", "value": "FR"},
    )
    new_id = segment_id(save(auth, "French VIPs", data))
    response = auth.client.get(f"/contacts/?segment={new_id}")
    html = response.get_data(as_text=True)
    assert sorted(row_ids(html)) == sorted([people["Ann"], people["Bob"]])
    assert 'id="segment-banner"' in html and "French VIPs" in html
    assert f'<input type="hidden" name="segment" value="{new_id}">' in html
    count = auth.client.get(f"/contacts/count?segment={new_id}").get_data(as_text=True)
    assert "2 contacts" in count
    # Other filters narrow it further.
    html = auth.client.get(f"/contacts/?segment={new_id}&q=bob").get_data(as_text=True)
    assert row_ids(html) == [people["Bob"]]

    # The API's contact list takes the same argument.
    listed = api("viewer").get(f"/api/v1/contacts?segment={new_id}").json
    assert sorted(c["id"] for c in listed["data"]) == sorted([people["Ann"], people["Bob"]])

    # An unknown segment is a notice, and the list is not narrowed.
    html = auth.client.get("/contacts/?segment=999").get_data(as_text=True)
    assert "no segment has the id 999" in html
    assert len(row_ids(html)) == 6

    # Bulk actions on "all matching": add the segment to a list, then take it off again.
    with app.app_context():
        newsletter = ContactList(name="Newsletter")
        db.session.add(newsletter)
        db.session.commit()
        list_id = newsletter.id
    query = urlencode({"segment": new_id})
    response = auth.post(
        "/contacts/bulk",
        {"action": "add_to_list", "scope": "all", "query": query, "bulk_list": str(list_id)},
        htmx=True,
    )
    assert "Added 2 contacts to the list." in response.get_data(as_text=True)
    with app.app_context():
        members = set(
            db.session.scalars(
                select(ListMembership.contact_id).where(ListMembership.list_id == list_id)
            )
        )
    assert members == {people["Ann"], people["Bob"]}
    # A segment on list membership sees them at once (segments are live).
    on_list = segment_id(
        save(auth, "On the newsletter", rows_form({"kind": "list", "list": str(list_id)}))
    )
    assert "2 contacts" in auth.client.get(f"/contacts/count?segment={on_list}").get_data(
        as_text=True
    )

    response = auth.post(
        "/contacts/bulk",
        {
            "action": "remove_from_list",
            "ids": [str(people["Bob"]), str(people["Cat"])],
            "query": query,
            "bulk_list": str(list_id),
        },
        htmx=True,
    )
    assert "Removed 1 contact from the list." in response.get_data(as_text=True)
    with app.app_context():
        audits = list(
            db.session.scalars(select(AuditEntry).where(AuditEntry.action == "remove_from_list"))
        )
        assert [(a.entity_id, a.changes) for a in audits] == [
            (people["Bob"], {"list": ["Newsletter", None]})
        ]
    assert "1 contact" in auth.client.get(f"/contacts/count?segment={on_list}").get_data(
        as_text=True
    )

    # Export: the export page counts the segment's contacts.
    page = auth.client.get("/exports/?" + urlencode({"query": query})).get_data(as_text=True)
    assert re.search(r"\b2\b", page)
    response = auth.post("/exports/contacts", {"format": "csv", "scope": "filter", "query": query})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "ann@acme.com" in body and "bob@acme.com" in body and "cat@globex.com" not in body


def test_save_the_contact_list_filter_as_a_segment(app, auth, people):
    auth.login("member")
    query = "status=active&tag=vip&score_min=50"
    html = auth.client.get("/contacts/?" + query).get_data(as_text=True)
    expected = sorted(row_ids(html))
    assert expected == [people["Ann"]]
    link = re.search(r'id="save-as-segment" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/segments/new?filter=")

    page = auth.client.get(link).get_data(as_text=True)
    assert '<option value="status" selected' in page
    assert '<option value="tags" selected' in page
    assert '<option value="lead_score" selected' in page
    # Post the builder back as the page shows it (its inputs' values).
    fields = {
        "n-kind": "all",
        "n-0-kind": "field", "n-0-field": "status", "n-0-op": "in", "n-0-value": "active",
        "n-1-kind": "field", "n-1-field": "tags", "n-1-op": "contains", "n-1-value": "vip",
        "n-2-kind": "field", "n-2-field": "lead_score", "n-2-op": "gte", "n-2-value": "50",
    }  # fmt: skip
    for name in fields:
        assert f'name="{name}"' in page, name
    assert re.search(r'name="n-0-value"[^>]*multiple[\s\S]*?<option value="active" selected', page)
    assert total(live_count(auth, fields)) == 1
    new_id = segment_id(save(auth, "From the list", fields))
    html = auth.client.get(f"/contacts/?segment={new_id}").get_data(as_text=True)
    assert sorted(row_ids(html)) == expected

    # A segment's list saved again keeps the segment as a condition; a search is
    # kept as "contains" conditions, with a notice saying so.
    page = auth.client.get(
        "/segments/new?" + urlencode({"filter": f"segment={new_id}&q=ann"})
    ).get_data(as_text=True)
    assert "The search &#34;ann&#34; became" in page or "The search &quot;ann&quot; became" in page
    assert 'name="n-0-2-value"' in page  # the search: ANY of first name, last name, email
    assert 'name="n-1-kind"' in page and 'name="n-1-2-field"' in page  # the segment


def test_viewers_do_not_get_the_save_filter_button(auth, people):
    auth.login("viewer")
    html = auth.client.get("/contacts/?status=active").get_data(as_text=True)
    assert "save-as-segment" not in html
