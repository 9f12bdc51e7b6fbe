"""/api/v1/tags and /api/v1/lists: what contacts are grouped by, and list members."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from app import audit
from app.api import bp
from app.api.common import (
    MAX_BATCH,
    ApiError,
    check_args,
    decode_cursor,
    encode_cursor,
    envelope,
    json_body,
    keyset_page,
    only_keys,
    page_limit,
    validation_error,
)
from app.auth.permissions import actor, require
from app.contacts.models import Contact, ContactTag, Tag
from app.contacts.related import contact_to_dict, load_related
from app.extensions import db
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList, ListMembership
from app.lists.service import (
    add_member,
    create_list,
    delete_list,
    members,
    remove_member,
    set_status,
    status_counts,
)
from app.lists.tags import clean_tag_name, create_tag, delete_tag, tag_key

# --- tags -------------------------------------------------------------------


def tag_to_dict(tag: Tag, contact_count: int) -> dict[str, Any]:
    """The API form of a tag."""
    return {
        "id": tag.id,
        "name": tag.name,
        "color": tag.color,
        "contact_count": contact_count,
        "created_at": audit.jsonable(tag.created_at),
    }


def _tag_counts(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    stmt = (
        select(ContactTag.tag_id, func.count())
        .where(ContactTag.tag_id.in_(ids))
        .group_by(ContactTag.tag_id)
    )
    return {k: v for k, v in db.session.execute(stmt)}


@bp.get("/api/v1/tags")
@require("read")
def tags_list():
    """Tags by name, each with its number of contacts."""
    check_args({"limit", "cursor"})
    rows, next_cursor = keyset_page(select(Tag), [Tag.key, Tag.id], page_limit())
    tags = [row[0] for row in rows]
    counts = _tag_counts([t.id for t in tags])
    return envelope([tag_to_dict(t, counts.get(t.id, 0)) for t in tags], next_cursor)


@bp.post("/api/v1/tags")
@require("write")
def tags_create():
    """Create a tag: 201; a name that exists (whatever its case) is a 409."""
    body = json_body()
    only_keys(body, {"name", "color"})
    name = clean_tag_name(body.get("name") if isinstance(body.get("name"), str) else None)
    color = body.get("color")
    if color is not None and (not isinstance(color, str) or len(color) > 20):
        raise validation_error({"color": _("A colour is text of at most 20 characters.")})
    existing = db.session.scalar(select(Tag).where(Tag.key == tag_key(name)))
    if existing is not None:
        raise ApiError(
            409,
            _('The tag "%(name)s" exists already.', name=existing.name),
            field="name",
            code="duplicate",
            existing_id=existing.id,
        )
    tag = create_tag(name, actor=actor(), via="api")
    tag.color = (color.strip() or None) if color else None
    db.session.commit()
    return jsonify(tag_to_dict(tag, 0)), 201


@bp.delete("/api/v1/tags/<int:tag_id>")
@require("write")
def tags_delete(tag_id: int):
    """Delete a tag; the contacts that had it keep everything else."""
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise ApiError(404, _("No tag with id %(id)s.", id=tag_id))
    delete_tag(tag, actor=actor(), via="api")
    db.session.commit()
    return "", 204


# --- lists ------------------------------------------------------------------


def _member_counts(ids: list[int]) -> dict[int, dict[str, int]]:
    counts = status_counts(ids)
    return {i: counts.get(i, dict.fromkeys(SUBSCRIPTION_STATUSES, 0)) for i in ids}


def list_to_dict(contact_list: ContactList, counts: dict[str, int]) -> dict[str, Any]:
    """The API form of a static list, with its members counted by subscription status."""
    return {
        "id": contact_list.id,
        "name": contact_list.name,
        "description": contact_list.description,
        "member_count": sum(counts.values()),
        "members_by_status": counts,
        "created_by_id": contact_list.created_by_id,
        "created_at": audit.jsonable(contact_list.created_at),
    }


def _get_list(list_id: int) -> ContactList:
    contact_list = db.session.get(ContactList, list_id)
    if contact_list is None:
        raise ApiError(404, _("No list with id %(id)s.", id=list_id))
    return contact_list


@bp.get("/api/v1/lists")
@require("read")
def lists_list():
    """Static lists by name, with member counts."""
    check_args({"limit", "cursor"})
    rows, next_cursor = keyset_page(
        select(ContactList), [func.lower(ContactList.name), ContactList.id], page_limit()
    )
    lists = [row[0] for row in rows]
    counts = _member_counts([x.id for x in lists])
    return envelope([list_to_dict(x, counts[x.id]) for x in lists], next_cursor)


@bp.post("/api/v1/lists")
@require("write")
def lists_create():
    """Create a static list: 201; a name in use (whatever its case) is a 409."""
    body = json_body()
    only_keys(body, {"name", "description"})
    name = body.get("name")
    if isinstance(name, str) and name.strip():
        existing = db.session.scalar(
            select(ContactList).where(func.lower(ContactList.name) == name.strip().lower())
        )
        if existing is not None:
            raise ApiError(
                409,
                _('A list named "%(name)s" exists already.', name=existing.name),
                field="name",
                code="duplicate",
                existing_id=existing.id,
            )
    contact_list = create_list(body, actor=actor(), via="api")
    db.session.commit()
    return jsonify(
        list_to_dict(contact_list, _member_counts([contact_list.id])[contact_list.id])
    ), 201


@bp.get("/api/v1/lists/<int:list_id>")
@require("read")
def lists_get(list_id: int):
    """One list with its member counts."""
    contact_list = _get_list(list_id)
    return jsonify(list_to_dict(contact_list, _member_counts([list_id])[list_id]))


@bp.delete("/api/v1/lists/<int:list_id>")
@require("write")
def lists_delete(list_id: int):
    """Delete a list; its contacts stay."""
    delete_list(_get_list(list_id), actor=actor(), via="api")
    db.session.commit()
    return "", 204


@bp.get("/api/v1/lists/<int:list_id>/members")
@require("read")
def lists_members(list_id: int):
    """A page of the list's members (optionally of one `status`), by contact id."""
    check_args({"status", "limit", "cursor"})
    _get_list(list_id)
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        raise ApiError(
            400,
            _("Choose one of: %(choices)s.", choices=", ".join(SUBSCRIPTION_STATUSES)),
            field="status",
            code="invalid",
        )
    cursor = request.args.get("cursor", "").strip()
    after = decode_cursor(cursor, 1)[0] if cursor else None
    rows, next_after = members(list_id, status, after, page_limit())
    rel = load_related(db.session, [contact for contact, _m in rows])
    data = [
        {
            "contact_id": member.contact_id,
            "status": member.status,
            "added_at": audit.jsonable(member.added_at),
            "updated_at": audit.jsonable(member.updated_at),
            "contact": contact_to_dict(contact, rel),
        }
        for contact, member in rows
    ]
    return envelope(data, None if next_after is None else encode_cursor([next_after]))


def _contacts(body: dict[str, Any]) -> list[Contact]:
    """The contacts of the body's "contact_ids" (at most MAX_BATCH); 422 naming unknown ids."""
    ids = body.get("contact_ids")
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise validation_error({"contact_ids": _("Expected a list of contact ids.")})
    if len(ids) > MAX_BATCH:
        raise ApiError(
            413,
            _("At most %(max)s contacts at a time; this has %(n)s.", max=MAX_BATCH, n=len(ids)),
            field="contact_ids",
        )
    ids = list(dict.fromkeys(ids))
    found = {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ApiError(
            422,
            _("No contact with id %(ids)s.", ids=", ".join(map(str, missing[:20]))),
            field="contact_ids",
            code="invalid",
            missing=missing,
        )
    return [found[i] for i in ids]


def _memberships(list_id: int, contacts: list[Contact]) -> dict[int, ListMembership]:
    stmt = select(ListMembership).where(
        ListMembership.list_id == list_id,
        ListMembership.contact_id.in_([c.id for c in contacts]),
    )
    return {m.contact_id: m for m in db.session.scalars(stmt)}


@bp.post("/api/v1/lists/<int:list_id>/members")
@require("write")
def lists_add_members(list_id: int):
    """Add contacts to the list with a status (default subscribed); members change status."""
    contact_list = _get_list(list_id)
    body = json_body()
    only_keys(body, {"contact_ids", "status"})
    status = body.get("status", "subscribed")
    if status not in SUBSCRIPTION_STATUSES:
        raise validation_error(
            {"status": _("Choose one of: %(choices)s.", choices=", ".join(SUBSCRIPTION_STATUSES))}
        )
    contacts = _contacts(body)
    existing = _memberships(list_id, contacts)
    user = actor()
    added = updated = 0
    for contact in contacts:
        member = existing.get(contact.id)
        if member is None:
            add_member(contact_list, contact.email, status, actor=user, via="api")
            added += 1
        elif set_status(contact_list, member, status, actor=user, via="api"):
            updated += 1
    db.session.commit()
    return jsonify(
        {"added": added, "updated": updated, "unchanged": len(contacts) - added - updated}
    )


@bp.delete("/api/v1/lists/<int:list_id>/members")
@require("write")
def lists_remove_members(list_id: int):
    """Take contacts off the list (body {"contact_ids": [...]}); the contacts stay."""
    contact_list = _get_list(list_id)
    body = json_body()
    only_keys(body, {"contact_ids"})
    existing = _memberships(list_id, _contacts(body))
    user = actor()
    for member in existing.values():
        remove_member(contact_list, member, actor=user, via="api")
    db.session.commit()
    return jsonify({"removed": len(existing)})
