"""Bulk actions from the list: over ticked rows or every contact matching the filter,
each leaving audit entries (and timeline entries where a person would look)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.contacts.models import Contact, ContactTag, Tag
from app.extensions import db
from app.lists.models import ContactList, ListMembership
from app.timeline.models import Activity
from tests.contacts.conftest import htmx, row_ids


@pytest.fixture
def people(make_contact):
    return [
        make_contact(email=f"p{i}@bulk.com", first_name=f"P{i}", status="active", tags=["old"])
        for i in range(5)
    ]


def _bulk(auth, action: str, ids=(), *, htmx_: bool = True, **fields):
    data = {"action": action, "ids": [str(i) for i in ids], **fields}
    return auth.post("/contacts/bulk", data=data, htmx=htmx_)


def _audits(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def _tags(app, contact_id: int) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(Tag.name)
                .join(ContactTag, ContactTag.tag_id == Tag.id)
                .where(ContactTag.contact_id == contact_id)
            )
        )


def test_tag_and_untag_selected_rows(app, auth, people):
    auth.login("member")
    response = _bulk(auth, "tag", people[:2], bulk_tag="Hot, Fair 2024")
    assert response.status_code == 200
    assert b"Tagged 2 contacts." in response.data
    assert "contacts-changed" in response.headers["HX-Trigger"]
    assert row_ids(response.data)  # the refreshed results block
    assert _tags(app, people[0]) == {"old", "Hot", "Fair 2024"}
    assert _tags(app, people[2]) == {"old"}
    entries = _audits(app, "tag")
    assert sorted(e.entity_id for e in entries) == sorted(people[:2] * 2)
    assert all(e.user_id is not None and e.via == "web" for e in entries)

    # Tagging again adds nothing twice.
    again = _bulk(auth, "tag", people[:3], bulk_tag="hot")
    assert b"Tagged 1 contact." in again.data
    assert _tags(app, people[2]) == {"old", "Hot"}

    removed = _bulk(auth, "untag", people, bulk_tag="OLD")
    assert b"Removed the tag from 5 contacts." in removed.data
    assert _tags(app, people[0]) == {"Hot", "Fair 2024"}
    assert len(_audits(app, "untag")) == 5


def test_add_to_list(app, auth, people):
    with app.app_context():
        newsletter = ContactList(name="Newsletter")
        db.session.add(newsletter)
        db.session.commit()
        list_id = newsletter.id
    auth.login("member")
    response = _bulk(auth, "add_to_list", people[:3], bulk_list=str(list_id))
    assert b"Added 3 contacts to the list." in response.data
    again = _bulk(auth, "add_to_list", people, bulk_list=str(list_id))
    assert b"Added 2 contacts to the list." in again.data
    with app.app_context():
        members = db.session.scalars(
            select(ListMembership).where(ListMembership.list_id == list_id)
        ).all()
        assert sorted(m.contact_id for m in members) == sorted(people)
        assert {m.status for m in members} == {"subscribed"}
    assert len(_audits(app, "add_to_list")) == 5


def test_change_owner_and_status_leave_a_timeline_entry_per_contact(app, auth, users, people):
    auth.login("member")
    response = _bulk(auth, "owner", people[:2], bulk_owner=str(users["admin"].id))
    assert b"Changed the owner of 2 contacts." in response.data
    response = _bulk(auth, "status", people[1:3], bulk_status="replied")
    assert b"Changed the status of 2 contacts." in response.data
    with app.app_context():
        first = db.session.get(Contact, people[0])
        assert first.owner_id == users["admin"].id and first.status == "active"
        assert first.version == 2
        second = db.session.get(Contact, people[1])
        assert second.status == "replied" and second.version == 3
        changes = [
            a.data["changes"]
            for a in db.session.scalars(
                select(Activity)
                .where(Activity.contact_id == people[1], Activity.kind == "field_change")
                .order_by(Activity.id)
            )
        ]
    assert changes == [
        {"owner": ["member@example.com", "admin@example.com"]},
        {"status": ["active", "replied"]},
    ]
    # The contact page shows them on its timeline.
    page = auth.client.get(f"/contacts/{people[1]}").data.decode()
    assert "Replied" in page and "admin@example.com" in page
    nobody = _bulk(auth, "owner", people, bulk_owner="none")
    assert b"Changed the owner of 5 contacts." in nobody.data
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Contact.owner_id.is_not(None))) == 0


def test_archive_and_restore(app, client, auth, people):
    auth.login("member")
    response = _bulk(auth, "archive", people[:2])
    assert b"Archived 2 contacts." in response.data
    assert sorted(row_ids(response.data)) == sorted(people[2:])  # archived ones left the list
    assert sorted(row_ids(client.get("/contacts/?archived=only").data)) == sorted(people[:2])
    restored = _bulk(auth, "restore", people, query="archived=include")
    assert b"Restored 2 contacts." in restored.data
    assert sorted(row_ids(client.get("/contacts/").data)) == sorted(people)
    assert len(_audits(app, "archive")) == 2 and len(_audits(app, "restore")) == 2


def test_delete_asks_first_saying_how_many(app, client, auth, people):
    auth.login("member")
    ask = _bulk(auth, "delete", people[:3])
    assert ask.status_code == 200
    assert b"Delete 3 contacts?" in ask.data
    assert ask.headers["HX-Retarget"] == "#bulk-confirm"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 5
    done = _bulk(auth, "delete", people[:3], confirm="yes")
    assert b"Deleted 3 contacts." in done.data
    assert sorted(row_ids(done.data)) == sorted(people[3:])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 2
        assert db.session.scalar(select(func.count()).select_from(ContactTag)) == 2
    entries = _audits(app, "delete")
    assert sorted(e.entity_id for e in entries) == sorted(people[:3])
    assert entries[0].changes["email"].endswith("@bulk.com")
    # Deleted contacts are gone from search too.
    assert row_ids(htmx(client, "/contacts/?q=p0").data) == []


def test_select_all_matching_the_filter(app, client, auth, people, make_contact):
    other = make_contact(email="other@else.com", status="bounced")
    auth.login("member")
    # Only the first page is on screen, but the action covers every match.
    response = auth.post(
        "/contacts/bulk",
        data={"action": "status", "scope": "all", "query": "status=active&limit=2",
              "bulk_status": "inactive"},
        htmx=True,
    )  # fmt: skip
    assert b"Changed the status of 5 contacts." in response.data
    with app.app_context():
        assert db.session.get(Contact, other).status == "bounced"
    ask = auth.post(
        "/contacts/bulk",
        data={"action": "delete", "scope": "all", "query": "q=bulk"},
        htmx=True,
    )
    assert b"Delete 5 contacts?" in ask.data
    assert b'name="scope" value="all"' in ask.data


def test_without_javascript_bulk_redirects_back_with_a_message(client, auth, people):
    auth.login("member")
    response = _bulk(auth, "tag", people[:1], htmx_=False, bulk_tag="x", query="q=p0")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/contacts/?q=p0")
    assert b"Tagged 1 contact." in client.get("/contacts/?q=p0").data
    confirm = _bulk(auth, "delete", people[:2], htmx_=False)
    assert b"Delete 2 contacts?" in confirm.data and b"<html" in confirm.data


def test_bad_bulk_input_changes_nothing(app, auth, people):
    auth.login("member")
    for action, fields, message in (
        ("tag", {}, b"Select at least one contact first."),
        ("", {"ids": [str(people[0])]}, b"Choose an action."),
        ("tag", {"ids": [str(people[0])], "bulk_tag": " "}, b"Enter a tag."),
        ("status", {"ids": [str(people[0])], "bulk_status": "asleep"}, b"Choose one of"),
        ("owner", {"ids": [str(people[0])], "bulk_owner": "999"}, b"No such user."),
        ("add_to_list", {"ids": [str(people[0])], "bulk_list": "999"}, b"No such list."),
    ):
        response = auth.post("/contacts/bulk", data={"action": action, **fields}, htmx=True)
        assert response.status_code == 200
        assert message in response.data, (action, response.data)
        assert response.headers["HX-Reswap"] == "none"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity_type == "contact", AuditEntry.action != "create")) == 0  # fmt: skip


def test_viewer_gets_no_bulk_controls_and_cannot_post(client, auth, people):
    auth.login("viewer")
    html = client.get("/contacts/").data.decode()
    assert 'id="bulk-form"' not in html and 'name="ids"' not in html
    assert "New contact" not in html
    response = _bulk(auth, "delete", people, confirm="yes")
    assert response.status_code == 403
    assert len(row_ids(client.get("/contacts/").data)) == 5
