"""Static lists: create, rename, delete, member statuses and removal."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.contacts.models import Contact
from app.contacts.service import create_contact
from app.extensions import db
from app.lists.models import ContactList, ListMembership
from app.timeline.models import Activity


def make_list(app, name: str, members: dict[str, str] | None = None) -> tuple[int, dict[str, int]]:
    """A list with members {email: status}; returns (list id, {email: contact id})."""
    with app.app_context():
        lst = ContactList(name=name)
        db.session.add(lst)
        db.session.flush()
        ids = {}
        for email, status in (members or {}).items():
            contact = db.session.scalar(select(Contact).where(Contact.email == email))
            contact = contact or create_contact({"email": email, "first_name": email[:3]})
            db.session.add(ListMembership(list_id=lst.id, contact_id=contact.id, status=status))
            ids[email] = contact.id
        db.session.commit()
        return lst.id, ids


def test_viewer_sees_lists_but_cannot_change_them(app, client, auth):
    lid, ids = make_list(app, "Newsletter", {"a@example.com": "subscribed"})
    auth.login("viewer")
    assert client.get("/lists/").status_code == 200
    page = client.get(f"/lists/{lid}")
    assert page.status_code == 200 and b"a@example.com" in page.data
    assert b"Add a contact" not in page.data
    cid = ids["a@example.com"]
    for path, data in [
        ("/lists/", {"name": "X"}),
        (f"/lists/{lid}/edit", {"name": "Y"}),
        (f"/lists/{lid}/delete", {}),
        (f"/lists/{lid}/members", {"email": "a@example.com"}),
        (f"/lists/{lid}/members/{cid}/status", {"status": "pending"}),
        (f"/lists/{lid}/members/{cid}/remove", {}),
    ]:
        assert auth.post(path, data).status_code == 403, path


def test_create_list_then_rename_and_describe(app, client, auth):
    auth.login("member")
    response = auth.post("/lists/", {"name": "Webinar 2025", "description": "Signed up"})
    assert response.status_code == 303
    lid = int(re.search(r"/lists/(\d+)$", response.headers["Location"]).group(1))
    page = client.get(f"/lists/{lid}").get_data(as_text=True)
    assert "Webinar 2025" in page and "Signed up" in page
    assert f"/contacts/?list={lid}" in page

    response = auth.post(f"/lists/{lid}/edit", {"name": "Webinar 2026", "description": ""})
    assert response.status_code == 303
    with app.app_context():
        lst = db.session.get(ContactList, lid)
        assert (lst.name, lst.description) == ("Webinar 2026", None)
        actions = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "list")
            .order_by(AuditEntry.id)
        ).all()
        assert actions == ["create", "update"]


def test_inline_rename_with_htmx(app, client, auth):
    lid, _ = make_list(app, "Old name")
    auth.login("member")
    form = client.get(f"/lists/{lid}/edit", headers={"HX-Request": "true"})
    assert b"<html" not in form.data and b'name="name"' in form.data
    saved = auth.post(f"/lists/{lid}/edit", {"name": "New name"}, htmx=True)
    assert saved.status_code == 200
    assert b"<html" not in saved.data and b"New name" in saved.data


def test_invalid_or_duplicate_list_names_are_refused(app, client, auth):
    make_list(app, "Customers")
    other, _ = make_list(app, "Partners")
    auth.login("member")
    empty = auth.post("/lists/", {"name": "  "})
    assert empty.status_code == 422 and b"A list needs a name." in empty.data
    dup = auth.post("/lists/", {"name": "customers"})
    assert dup.status_code == 422 and b"Another list has this name." in dup.data
    rename = auth.post(f"/lists/{other}/edit", {"name": "CUSTOMERS"})
    assert rename.status_code == 422 and b"Another list has this name." in rename.data
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ContactList)) == 2
        assert db.session.get(ContactList, other).name == "Partners"


def test_overview_counts_members_by_status(app, client, auth):
    make_list(
        app,
        "Newsletter",
        {
            "a@example.com": "subscribed",
            "b@example.com": "subscribed",
            "c@example.com": "unsubscribed",
            "d@example.com": "pending",
        },
    )
    make_list(app, "Empty")
    auth.login("viewer")
    page = client.get("/lists/").get_data(as_text=True)
    row = re.search(r"Newsletter</a>.*?</tr>", page, re.S).group(0)
    cells = re.findall(r'<td class="num"><a [^>]*>(\d+)</a></td>', row)
    assert cells == ["2", "1", "1", "4"]
    empty = re.search(r"Empty</a>.*?</tr>", page, re.S).group(0)
    assert re.findall(r'<td class="num"><a [^>]*>(\d+)</a></td>', empty) == ["0", "0", "0", "0"]


def test_member_status_change_shows_on_the_timeline(app, client, auth):
    lid, ids = make_list(app, "Newsletter", {"a@example.com": "subscribed"})
    cid = ids["a@example.com"]
    auth.login("member")
    response = auth.post(
        f"/lists/{lid}/members/{cid}/status", {"status": "unsubscribed"}, htmx=True
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and f'id="member-{cid}"' in body
    assert 'value="unsubscribed" selected' in body
    assert 'id="list-counts" class="counts" hx-swap-oob="true"' in body
    with app.app_context():
        assert db.session.get(ListMembership, (lid, cid)).status == "unsubscribed"
        activity = db.session.scalar(select(Activity).where(Activity.contact_id == cid))
        assert activity.kind == "field_change"
        assert activity.data["changes"]["lists"] == [
            "Newsletter: subscribed",
            "Newsletter: unsubscribed",
        ]
        assert db.session.scalar(
            select(AuditEntry).where(AuditEntry.entity_type == "list_membership")
        ).changes == {"contact_id": cid, "status": ["subscribed", "unsubscribed"]}

    bad = auth.post(f"/lists/{lid}/members/{cid}/status", {"status": "gone"})
    assert bad.status_code == 303
    assert b"Choose subscribed, unsubscribed or pending." in client.get(f"/lists/{lid}").data
    with app.app_context():
        assert db.session.get(ListMembership, (lid, cid)).status == "unsubscribed"


def test_members_filter_by_status_and_page(app, client, auth):
    members = {f"m{i:02d}@example.com": "pending" if i % 2 else "subscribed" for i in range(60)}
    lid, _ = make_list(app, "Big", members)
    auth.login("viewer")
    first = client.get(f"/lists/{lid}").get_data(as_text=True)
    assert first.count('id="member-') == 50
    next_link = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(next_link).get_data(as_text=True)
    assert second.count('id="member-') == 10
    pending = client.get(f"/lists/{lid}?status=pending").get_data(as_text=True)
    assert pending.count('id="member-') == 30 and "m00@example.com" not in pending
    fragment = client.get(f"/lists/{lid}?status=pending", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and b'id="list-members"' in fragment.data


def test_add_and_remove_a_member(app, client, auth):
    lid, ids = make_list(app, "Clients", {"a@example.com": "subscribed"})
    with app.app_context():
        create_contact({"email": "new@example.com"})
        db.session.commit()
    auth.login("member")
    assert (
        auth.post(
            f"/lists/{lid}/members", {"email": "NEW@example.com", "status": "pending"}
        ).status_code
        == 303
    )
    unknown = auth.post(f"/lists/{lid}/members", {"email": "nobody@example.com"})
    assert unknown.status_code == 422 and b"No contact has this email address." in unknown.data
    again = auth.post(f"/lists/{lid}/members", {"email": "a@example.com"})
    assert again.status_code == 422 and b"on the list already" in again.data

    cid = ids["a@example.com"]
    confirm = client.get(f"/lists/{lid}/members/{cid}/remove")
    assert confirm.status_code == 200 and b"a@example.com" in confirm.data
    removed = auth.post(f"/lists/{lid}/members/{cid}/remove", htmx=True)
    assert removed.status_code == 200
    assert f'id="member-{cid}"' not in removed.get_data(as_text=True)
    assert b"list-counts" in removed.data
    with app.app_context():
        assert db.session.get(ListMembership, (lid, cid)) is None
        assert db.session.get(Contact, cid) is not None
        statuses = dict(
            db.session.execute(
                select(Contact.email, ListMembership.status)
                .join(ListMembership, ListMembership.contact_id == Contact.id)
                .where(ListMembership.list_id == lid)
            ).all()
        )
        assert statuses == {"new@example.com": "pending"}


def test_delete_list_keeps_contacts(app, client, auth):
    lid, _ids = make_list(app, "Temp", {"a@example.com": "subscribed", "b@example.com": "pending"})
    auth.login("member")
    confirm = client.get(f"/lists/{lid}/delete")
    assert confirm.status_code == 200 and b"2 memberships" in confirm.data
    assert auth.post(f"/lists/{lid}/delete").status_code == 303
    assert client.get(f"/lists/{lid}").status_code == 404
    with app.app_context():
        assert db.session.get(ContactList, lid) is None
        assert db.session.scalar(select(func.count()).select_from(ListMembership)) == 0
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 2
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_type == "list", AuditEntry.action == "delete"
            )
        )
        assert entry.changes == {"name": "Temp", "members": 2}
