"""Tags management: create, rename (case-insensitive key), merge, delete."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.contacts.models import ContactTag, Tag
from app.contacts.service import create_contact, tag_names
from app.extensions import db


def tagged(app, contacts: dict[str, list[str]]) -> dict[str, int]:
    """Contacts with tags {email: [tag, ...]}; returns {email: id}."""
    with app.app_context():
        ids = {
            email: create_contact({"email": email, "tags": tags}).id
            for email, tags in contacts.items()
        }
        db.session.commit()
        return ids


def tag_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Tag.id).where(Tag.key == name.casefold()))


def test_tags_listed_with_counts(app, client, auth):
    tagged(app, {"a@example.com": ["VIP", "Paris"], "b@example.com": ["VIP"]})
    auth.login("viewer")
    page = client.get("/lists/").get_data(as_text=True)
    vip = page[page.index(">VIP<") :].split("</tr>")[0]
    assert '<a href="/contacts/?tag=VIP">2</a>' in vip
    paris = page[page.index(">Paris<") :].split("</tr>")[0]
    assert ">1</a>" in paris
    assert "Rename" not in vip
    assert auth.post("/lists/tags", {"name": "x"}).status_code == 403
    assert auth.post(f"/lists/tags/{tag_id(app, 'VIP')}/delete").status_code == 403


def test_create_tag_refuses_empty_and_existing_names(app, client, auth):
    auth.login("member")
    assert auth.post("/lists/tags", {"name": "Hot lead"}).status_code == 303
    dup = auth.post("/lists/tags", {"name": "HOT LEAD"})
    assert dup.status_code == 422 and b"This tag exists already." in dup.data
    empty = auth.post("/lists/tags", {"name": " "})
    assert empty.status_code == 422 and b"A tag needs a name." in empty.data
    with app.app_context():
        assert [(t.name, t.key) for t in db.session.scalars(select(Tag))] == [
            ("Hot lead", "hot lead")
        ]
        assert (
            db.session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_type == "tag")
            )
            == 1
        )


def test_rename_tag_inline_and_case_only(app, client, auth):
    ids = tagged(app, {"a@example.com": ["vip"], "b@example.com": ["Paris"]})
    vip = tag_id(app, "vip")
    auth.login("member")
    form = client.get(f"/lists/tags/{vip}/edit", headers={"HX-Request": "true"})
    assert form.status_code == 200 and b"<html" not in form.data and b'name="name"' in form.data
    assert client.get(f"/lists/tags/{vip}/edit").status_code == 200  # full page works too
    saved = auth.post(f"/lists/tags/{vip}/edit", {"name": "VIP"}, htmx=True)
    assert saved.status_code == 200 and b">VIP<" in saved.data
    clash = auth.post(f"/lists/tags/{vip}/edit", {"name": "paris"}, htmx=True)
    assert b"Merge the two tags instead." in clash.data
    clash_page = auth.post(f"/lists/tags/{vip}/edit", {"name": "PARIS"})
    assert clash_page.status_code == 422 and b"Merge this tag into another" in clash_page.data
    with app.app_context():
        tag = db.session.get(Tag, vip)
        assert (tag.name, tag.key) == ("VIP", "vip")
        assert tag_names(ids["a@example.com"]) == ["VIP"]


def test_merge_tags_moves_contacts_without_duplicates(app, client, auth):
    ids = tagged(
        app,
        {
            "a@example.com": ["customer"],
            "b@example.com": ["client", "customer"],
            "c@example.com": ["client"],
        },
    )
    source, target = tag_id(app, "client"), tag_id(app, "customer")
    auth.login("member")
    page = client.get(f"/lists/tags/{source}/merge")
    assert page.status_code == 200 and b"customer (2)" in page.data
    refused = auth.post(f"/lists/tags/{source}/merge", {"target": ""})
    assert refused.status_code == 422
    response = auth.post(f"/lists/tags/{source}/merge", {"target": str(target)})
    assert response.status_code == 303
    assert "Tag client merged into customer." in client.get("/lists/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Tag, source) is None
        for email in ids:
            assert tag_names(ids[email]) == ["customer"]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "merge"))
        assert entry.changes["moved"] == 1 and entry.changes["merged"] == "client"


def test_delete_tag_removes_it_from_contacts(app, client, auth):
    ids = tagged(app, {"a@example.com": ["old", "keep"], "b@example.com": ["old"]})
    old = tag_id(app, "old")
    auth.login("member")
    confirm = client.get(f"/lists/tags/{old}/delete")
    assert confirm.status_code == 200 and b"its 2 contacts" in confirm.data
    response = auth.post(f"/lists/tags/{old}/delete", htmx=True)
    assert response.status_code == 200 and response.data == b""
    with app.app_context():
        assert db.session.get(Tag, old) is None
        assert tag_names(ids["a@example.com"]) == ["keep"]
        assert tag_names(ids["b@example.com"]) == []
        assert (
            db.session.scalar(
                select(func.count()).select_from(ContactTag).where(ContactTag.tag_id == old)
            )
            == 0
        )
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.entity_type == "tag", AuditEntry.action == "delete")
        )
        assert entry.changes == {"name": "old", "contacts": 2}
    assert client.get(f"/lists/tags/{old}/delete").status_code == 404
