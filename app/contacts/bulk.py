"""Bulk actions over many contacts: tag, untag, add to or remove from a list, change
owner or status, archive, restore, delete.

A selection is a list of ids or the `id_select` of a ContactQuery ("all N matching").
Each action runs as a handful of set-based statements whatever the selection size,
writes one audit entry per contact it changes (INSERT ... SELECT), and a field-change
activity per contact where the timeline shows it (status, owner, tags, archived).
Nothing is committed here: the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement, Select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.contacts import events
from app.contacts.fields import STATUSES
from app.contacts.models import Contact, ContactTag, Tag
from app.contacts.service import get_or_create_tags
from app.extensions import db
from app.i18n import N_, Message
from app.lists.models import ContactList, ListMembership
from app.timeline.models import Activity
from app.timeutil import utcnow

Target = Sequence[int] | Select
ACTIONS = (
    "tag", "untag", "add_to_list", "remove_from_list", "owner", "status", "archive", "restore",
    "delete",
)  # fmt: skip


class BulkError(ValueError):
    """A bulk action refused before anything was written; `field` names the bad input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _in(target: Target) -> ColumnElement:
    if isinstance(target, Select):
        return Contact.id.in_(target.correlate(None))
    return Contact.id.in_([int(i) for i in target])


def count_target(target: Target) -> int:
    """How many contacts a selection holds."""
    return db.session.scalar(select(func.count()).select_from(Contact).where(_in(target))) or 0


def _user_id(actor: Any) -> int | None:
    return getattr(actor, "id", None)


def _audit(
    action: str,
    where: Sequence[ColumnElement],
    changes: Any,
    actor: Any,
    via: str,
    now: datetime,
) -> None:
    """One audit entry per contact matching `where` (changes: a dict or a SQL expression)."""
    changes_expr = changes if isinstance(changes, ColumnElement) else literal(changes, JSON)
    rows = select(
        literal(_user_id(actor), Integer),
        literal(action, String),
        literal("contact", String),
        Contact.id,
        changes_expr,
        literal(via, String),
        literal(now, DateTime),
    ).where(*where)
    columns = ["user_id", "action", "entity_type", "entity_id", "changes", "via", "created_at"]
    db.session.execute(insert(AuditEntry.__table__).from_select(columns, rows))


def _activity(
    where: Sequence[ColumnElement],
    changes: dict[str, Any],
    actor: Any,
    via: str,
    now: datetime,
) -> None:
    """A field-change activity (the timeline's entry) per contact matching `where`."""
    rows = select(
        Contact.id,
        literal(_user_id(actor), Integer),
        literal("field_change", String),
        literal(", ".join(sorted(changes)), String),
        literal({"changes": changes, "via": via, "bulk": True}, JSON),
        literal(via, String),
        literal(now, DateTime),
        literal(now, DateTime),
    ).where(*where)
    columns = [
        "contact_id", "user_id", "kind", "subject", "data", "source", "occurred_at", "created_at",
    ]  # fmt: skip
    db.session.execute(insert(Activity.__table__).from_select(columns, rows))


def _touch(where: Sequence[ColumnElement], now: datetime, **values: Any) -> int:
    """UPDATE the matching contacts, bumping their version so open forms see a conflict."""
    stmt = (
        update(Contact.__table__)
        .where(*where)
        .values(version=Contact.version + 1, updated_at=now, **values)
    )
    return db.session.execute(stmt).rowcount or 0


def _done(count: int, target: Target, fields: Sequence[str], via: str) -> int:
    """Tell contact-event listeners when something changed; expire stale objects."""
    if count:
        events.emit("updated", target, fields=fields, via=via)
    db.session.expire_all()
    return count


def _tag_names(names: Sequence[str]) -> list[str]:
    out = [n.strip() for n in names if n and n.strip()]
    if not out:
        raise BulkError("tag", N_("Enter a tag."))
    if any(len(n) > 100 for n in out):
        raise BulkError("tag", N_("A tag is at most 100 characters."))
    return list(dict.fromkeys(out))


def tag(target: Target, names: Sequence[str], *, actor: Any = None, via: str = "web") -> int:
    """Add tags (created when new); returns how many contacts gained a tag."""
    now = utcnow()
    total = 0
    for t in get_or_create_tags(_tag_names(names)):
        has = exists(
            select(literal_column("1")).where(
                ContactTag.contact_id == Contact.id, ContactTag.tag_id == t.id
            )
        )
        where = [_in(target), ~has]
        _audit("tag", where, {"tags": {"added": [t.name]}}, actor, via, now)
        _activity(where, {"tags": {"added": [t.name]}}, actor, via, now)
        # The UPDATE's row count is the number gaining the tag (INSERT ... SELECT
        # reports -1 on psycopg).
        total = max(total, _touch(where, now))
        rows = select(Contact.id, literal(t.id, Integer)).where(*where)
        db.session.execute(insert(ContactTag.__table__).from_select(["contact_id", "tag_id"], rows))
    return _done(total, target, ("tags",), via)


def untag(target: Target, names: Sequence[str], *, actor: Any = None, via: str = "web") -> int:
    """Remove tags; returns how many contacts lost a tag (unknown tags change nothing)."""
    now = utcnow()
    keys = [n.casefold() for n in _tag_names(names)]
    total = 0
    for t in db.session.scalars(select(Tag).where(Tag.key.in_(keys))):
        has = exists(
            select(literal_column("1")).where(
                ContactTag.contact_id == Contact.id, ContactTag.tag_id == t.id
            )
        )
        where = [_in(target), has]
        _audit("untag", where, {"tags": {"removed": [t.name]}}, actor, via, now)
        _activity(where, {"tags": {"removed": [t.name]}}, actor, via, now)
        total = max(total, _touch(where, now))
        selected = select(Contact.id).where(_in(target))
        db.session.execute(
            delete(ContactTag.__table__).where(
                ContactTag.tag_id == t.id, ContactTag.contact_id.in_(selected)
            )
        )
    return _done(total, target, ("tags",), via)


def _list_and_membership(list_id: int) -> tuple[ContactList, ColumnElement]:
    """The list (or a BulkError) and "the contact is on it" as a correlated EXISTS."""
    contact_list = db.session.get(ContactList, list_id)
    if contact_list is None:
        raise BulkError("list", N_("No such list."))
    member = exists(
        select(literal_column("1")).where(
            ListMembership.contact_id == Contact.id, ListMembership.list_id == list_id
        )
    )
    return contact_list, member


def add_to_list(target: Target, list_id: int, *, actor: Any = None, via: str = "web") -> int:
    """Subscribe contacts to a static list; returns how many were not on it yet."""
    contact_list, member = _list_and_membership(list_id)
    now = utcnow()
    where = [_in(target), ~member]
    added = db.session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
    _audit("add_to_list", where, {"list": [None, contact_list.name]}, actor, via, now)
    rows = select(
        literal(list_id, Integer),
        Contact.id,
        literal("subscribed", String),
        literal(now, DateTime),
        literal(now, DateTime),
    ).where(*where)
    db.session.execute(
        insert(ListMembership.__table__).from_select(
            ["list_id", "contact_id", "status", "added_at", "updated_at"], rows
        )
    )
    return _done(added, target, ("lists",), via)


def remove_from_list(target: Target, list_id: int, *, actor: Any = None, via: str = "web") -> int:
    """Take contacts off a static list (whatever their status); returns how many were on it."""
    contact_list, member = _list_and_membership(list_id)
    now = utcnow()
    where = [_in(target), member]
    removed = db.session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
    _audit("remove_from_list", where, {"list": [contact_list.name, None]}, actor, via, now)
    selected = select(Contact.id).where(_in(target))
    db.session.execute(
        delete(ListMembership.__table__).where(
            ListMembership.list_id == list_id, ListMembership.contact_id.in_(selected)
        )
    )
    return _done(removed, target, ("lists",), via)


def change_owner(
    target: Target, owner_id: int | None, *, actor: Any = None, via: str = "web"
) -> int:
    """Give contacts to a user (None: nobody); returns how many changed owner."""
    new_email = None
    if owner_id is not None:
        owner = db.session.get(User, owner_id)
        if owner is None:
            raise BulkError("owner", N_("No such user."))
        new_email = owner.email
    now = utcnow()
    differs = Contact.owner_id.is_distinct_from(owner_id)
    olds = list(db.session.scalars(select(Contact.owner_id).where(_in(target), differs).distinct()))
    emails = dict(
        db.session.execute(
            select(User.id, User.email).where(User.id.in_([o for o in olds if o is not None]))
        ).all()
    )
    for old in olds:
        where = [
            _in(target),
            Contact.owner_id.is_(None) if old is None else Contact.owner_id == old,
        ]
        changes = {"owner": [emails.get(old) if old is not None else None, new_email]}
        _audit("update", where, changes, actor, via, now)
        _activity(where, changes, actor, via, now)
    return _done(_touch([_in(target), differs], now, owner_id=owner_id), target, ("owner_id",), via)


def change_status(target: Target, status: str, *, actor: Any = None, via: str = "web") -> int:
    """Set the status of contacts; returns how many changed."""
    if status not in STATUSES:
        raise BulkError(
            "status", Message(N_("Choose one of: %(choices)s."), choices=", ".join(STATUSES))
        )
    now = utcnow()
    olds = list(
        db.session.scalars(
            select(Contact.status).where(_in(target), Contact.status != status).distinct()
        )
    )
    for old in olds:
        where = [_in(target), Contact.status == old]
        changes = {"status": [old, status]}
        _audit("update", where, changes, actor, via, now)
        _activity(where, changes, actor, via, now)
    changed = _touch([_in(target), Contact.status != status], now, status=status)
    return _done(changed, target, ("status",), via)


def archive(target: Target, *, actor: Any = None, via: str = "web") -> int:
    """Hide contacts from the list (kept, restorable); returns how many were archived."""
    now = utcnow()
    where = [_in(target), Contact.archived_at.is_(None)]
    _audit("archive", where, {"archived": [False, True]}, actor, via, now)
    _activity(where, {"archived": [False, True]}, actor, via, now)
    return _done(_touch(where, now, archived_at=now), target, ("archived_at",), via)


def restore(target: Target, *, actor: Any = None, via: str = "web") -> int:
    """Bring archived contacts back; returns how many were restored."""
    now = utcnow()
    where = [_in(target), Contact.archived_at.is_not(None)]
    _audit("restore", where, {"archived": [True, False]}, actor, via, now)
    _activity(where, {"archived": [True, False]}, actor, via, now)
    return _done(_touch(where, now, archived_at=None), target, ("archived_at",), via)


def _identity() -> ColumnElement:
    """A JSON object of each deleted contact's email and names, built in SQL."""
    parts = (
        "email", Contact.email, "first_name", Contact.first_name, "last_name", Contact.last_name,
    )  # fmt: skip
    if db.session.get_bind().dialect.name == "postgresql":
        return func.json_build_object(*parts, type_=JSON)
    return func.json_object(*parts, type_=JSON)


def delete_contacts(target: Target, *, actor: Any = None, via: str = "web") -> int:
    """Delete contacts with their tags, custom values, memberships and timeline."""
    now = utcnow()
    where = [_in(target)]
    _audit("delete", where, _identity(), actor, via, now)
    selected = select(Contact.id).where(*where)
    events.emit("deleted", target, via=via)
    result = db.session.execute(delete(Contact.__table__).where(Contact.id.in_(selected)))
    db.session.expire_all()
    return result.rowcount or 0


def run(action: str, target: Target, params: Mapping[str, str], *, actor: Any = None) -> int:
    """Validate the inputs of a bulk action from a form and run it; returns the count.

    Raises BulkError (naming the input) when the action or its input is not valid.
    """
    if action == "tag":
        return tag(target, (params.get("tag") or "").split(","), actor=actor)
    if action == "untag":
        return untag(target, (params.get("tag") or "").split(","), actor=actor)
    if action == "add_to_list":
        raw = (params.get("list") or "").strip()
        if not raw.isdigit():
            raise BulkError("list", N_("Choose a list."))
        return add_to_list(target, int(raw), actor=actor)
    if action == "remove_from_list":
        raw = (params.get("list") or "").strip()
        if not raw.isdigit():
            raise BulkError("list", N_("Choose a list."))
        return remove_from_list(target, int(raw), actor=actor)
    if action == "owner":
        raw = (params.get("owner") or "").strip()
        if raw == "none":
            return change_owner(target, None, actor=actor)
        if not raw.isdigit():
            raise BulkError("owner", N_("Choose an owner."))
        return change_owner(target, int(raw), actor=actor)
    if action == "status":
        return change_status(target, (params.get("status") or "").strip(), actor=actor)
    if action == "archive":
        return archive(target, actor=actor)
    if action == "restore":
        return restore(target, actor=actor)
    if action == "delete":
        return delete_contacts(target, actor=actor)
    raise BulkError("action", N_("Choose an action."))
