"""Static lists and their members' per-list subscription status.

Every write leaves an audit entry (and, for a member's status, a timeline entry
on the contact) in the caller's transaction; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select

from app import audit
from app.contacts import events
from app.contacts.fields import FieldError, ValidationFailed, clean_email
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList, ListMembership
from app.timeline.models import Activity
from app.timeutil import utcnow

STATUS_LABELS = {
    "subscribed": N_("Subscribed"),
    "unsubscribed": N_("Unsubscribed"),
    "pending": N_("Pending"),
}
MEMBERS_PAGE = 50


def clean_list(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate a list's name and description (pure). Raises ValidationFailed."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "name" in data or not partial:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = N_("A list needs a name.")
        elif len(name) > 200:
            errors["name"] = N_("A list name is at most 200 characters.")
        values["name"] = name
    if "description" in data:
        description = str(data.get("description") or "").strip()
        if len(description) > 2000:
            errors["description"] = N_("A description is at most 2000 characters.")
        values["description"] = description or None
    if errors:
        raise ValidationFailed(errors)
    return values


def _check_name(name: str, list_id: int | None) -> None:
    query = select(ContactList.id).where(func.lower(ContactList.name) == name.lower())
    if list_id is not None:
        query = query.where(ContactList.id != list_id)
    if db.session.scalar(query.limit(1)):
        raise ValidationFailed({"name": N_("Another list has this name.")})


def create_list(data: Mapping[str, Any], *, actor=None, via: str = "web") -> ContactList:
    """A new, empty static list. Raises ValidationFailed."""
    values = clean_list(data)
    _check_name(values["name"], None)
    lst = ContactList(created_by_id=getattr(actor, "id", None), **values)
    db.session.add(lst)
    db.session.flush()
    audit.record("create", "list", lst.id, values, actor=actor, via=via)
    return lst


def update_list(
    lst: ContactList, data: Mapping[str, Any], *, actor=None, via: str = "web"
) -> dict[str, list[Any]]:
    """Rename or describe a list; returns {field: [old, new]}. Raises ValidationFailed."""
    values = clean_list(data, partial=True)
    if "name" in values:
        _check_name(values["name"], lst.id)
    changes = {k: [getattr(lst, k), v] for k, v in values.items() if getattr(lst, k) != v}
    for key, (_old, new) in changes.items():
        setattr(lst, key, new)
    if changes:
        audit.record("update", "list", lst.id, changes, actor=actor, via=via)
    return changes


def delete_list(lst: ContactList, *, actor=None, via: str = "web") -> int:
    """Delete a list and its memberships (the contacts stay); returns how many members it had."""
    ids = list(
        db.session.scalars(
            select(ListMembership.contact_id).where(ListMembership.list_id == lst.id)
        )
    )
    members = len(ids)
    db.session.execute(delete(ListMembership).where(ListMembership.list_id == lst.id))
    events.emit("updated", ids, fields=("lists",), via=via)
    audit.record(
        "delete", "list", lst.id, {"name": lst.name, "members": members}, actor=actor, via=via
    )
    db.session.delete(lst)
    db.session.flush()
    return members or 0


def status_counts(list_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """Members per list and status, in one grouped query: {list_id: {status: n}}."""
    query = select(ListMembership.list_id, ListMembership.status, func.count()).group_by(
        ListMembership.list_id, ListMembership.status
    )
    if list_ids is not None:
        if not list_ids:
            return {}
        query = query.where(ListMembership.list_id.in_(list_ids))
    out: dict[int, dict[str, int]] = {}
    for list_id, status, n in db.session.execute(query):
        out.setdefault(list_id, dict.fromkeys(SUBSCRIPTION_STATUSES, 0))[status] = n
    return out


def overview() -> list[tuple[ContactList, dict[str, int]]]:
    """Every list by name with its member counts by status (two queries)."""
    lists = list(db.session.scalars(select(ContactList).order_by(func.lower(ContactList.name))))
    counts = status_counts()
    empty = dict.fromkeys(SUBSCRIPTION_STATUSES, 0)
    return [(lst, counts.get(lst.id, empty)) for lst in lists]


def members(
    list_id: int, status: str | None = None, after: int | None = None, limit: int = MEMBERS_PAGE
) -> tuple[list[tuple[Contact, ListMembership]], int | None]:
    """One keyset page of a list's members (by contact id) and the cursor of the next page."""
    query = (
        select(Contact, ListMembership)
        .join(ListMembership, ListMembership.contact_id == Contact.id)
        .where(ListMembership.list_id == list_id)
        .order_by(ListMembership.contact_id)
        .limit(limit + 1)
    )
    if status in SUBSCRIPTION_STATUSES:
        query = query.where(ListMembership.status == status)
    if after is not None:
        query = query.where(ListMembership.contact_id > after)
    rows = [(c, m) for c, m in db.session.execute(query)]
    next_after = rows[limit - 1][0].id if len(rows) > limit else None
    return rows[:limit], next_after


def membership(list_id: int, contact_id: int) -> ListMembership | None:
    return db.session.get(ListMembership, (list_id, contact_id))


def _timeline(lst: ContactList, contact_id: int, old: str | None, new: str | None, actor, via):
    def shown(status: str | None) -> str | None:
        return f"{lst.name}: {status}" if status else None

    changes = {"lists": [shown(old), shown(new)]}
    db.session.add(
        Activity(
            contact_id=contact_id,
            user_id=getattr(actor, "id", None),
            kind="field_change",
            subject="lists",
            data={"changes": changes, "via": via, "list_id": lst.id},
            source=via,
        )
    )
    events.emit("updated", [contact_id], fields=("lists",), via=via)


def set_status(
    lst: ContactList, member: ListMembership, status: str, *, actor=None, via: str = "web"
) -> bool:
    """Change a member's subscription status on this list; False when it was already so."""
    if status not in SUBSCRIPTION_STATUSES:
        raise ValidationFailed({"status": N_("Choose subscribed, unsubscribed or pending.")})
    old = member.status
    if old == status:
        return False
    member.status = status
    member.updated_at = utcnow()
    audit.record(
        "update",
        "list_membership",
        lst.id,
        {"contact_id": member.contact_id, "status": [old, status]},
        actor=actor,
        via=via,
    )
    _timeline(lst, member.contact_id, old, status, actor, via)
    return True


def remove_member(lst: ContactList, member: ListMembership, *, actor=None, via: str = "web"):
    """Take a contact off the list (the contact stays)."""
    audit.record(
        "delete",
        "list_membership",
        lst.id,
        {"contact_id": member.contact_id, "status": member.status},
        actor=actor,
        via=via,
    )
    _timeline(lst, member.contact_id, member.status, None, actor, via)
    db.session.delete(member)
    db.session.flush()


def add_member(
    lst: ContactList, email: str, status: str = "subscribed", *, actor=None, via: str = "web"
) -> ListMembership:
    """Put the contact with this email on the list. Raises ValidationFailed."""
    try:
        address = clean_email(email)
    except FieldError as exc:
        raise ValidationFailed({"email": exc.message}) from None
    if status not in SUBSCRIPTION_STATUSES:
        raise ValidationFailed({"status": N_("Choose subscribed, unsubscribed or pending.")})
    contact_id = db.session.scalar(select(Contact.id).where(Contact.email == address))
    if contact_id is None:
        raise ValidationFailed({"email": N_("No contact has this email address.")})
    if membership(lst.id, contact_id) is not None:
        raise ValidationFailed({"email": N_("This contact is on the list already.")})
    member = ListMembership(list_id=lst.id, contact_id=contact_id, status=status)
    db.session.add(member)
    db.session.flush()
    audit.record(
        "create",
        "list_membership",
        lst.id,
        {"contact_id": contact_id, "status": status},
        actor=actor,
        via=via,
    )
    _timeline(lst, contact_id, None, status, actor, via)
    return member
