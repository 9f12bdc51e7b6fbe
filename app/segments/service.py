"""Saved segments: create, rename, redefine and delete them (audited), and count or list
the contacts they match, evaluated live against the current data.

Bad input raises ValidationFailed (name, timezone) or TreeError (conditions, with the
path of the bad node); nothing is written then. The caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app import audit
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_
from app.lists.models import ContactList
from app.segments import compile as compiler
from app.segments.models import Segment
from app.segments.tree import CustomFieldType, TreeError, check_timezone, parse

MAX_NAME = 200
DEFAULT_TIMEZONE = "UTC"
KEYS = frozenset({"name", "conditions", "timezone"})


def list_names(session: Session) -> list[str]:
    """The names of the existing static lists (a list leaf must name one of them)."""
    return list(session.scalars(select(ContactList.name)))


def clean_name(raw: Any) -> str:
    """A segment's name, stripped; ValidationFailed when empty, not text or too long."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed({"name": N_("A segment needs a name.")})
    name = raw.strip()
    if len(name) > MAX_NAME:
        raise ValidationFailed({"name": N_("A segment name is at most 200 characters.")})
    return name


def clean_timezone(raw: Any) -> str:
    """An IANA timezone name (None or "" means UTC); ValidationFailed otherwise."""
    if raw is None or raw == "":
        return DEFAULT_TIMEZONE
    try:
        return check_timezone(raw)
    except TreeError as exc:
        raise ValidationFailed({"timezone": exc.message}) from None


def clean_conditions(
    session: Session,
    raw: Any,
    custom_fields: Mapping[str, CustomFieldType] | None = None,
) -> dict:
    """The normalised tree; TreeError naming the bad node, ValidationFailed when missing."""
    if raw is None:
        raise ValidationFailed({"conditions": N_("Conditions are required.")})
    if custom_fields is None:
        custom_fields = compiler.custom_field_types(session)
    return parse(raw, custom_fields, lists=list_names(session))


def _check_name(session: Session, name: str, segment_id: int | None) -> None:
    query = select(Segment.id).where(func.lower(Segment.name) == name.lower())
    if segment_id is not None:
        query = query.where(Segment.id != segment_id)
    if session.scalar(query.limit(1)):
        raise ValidationFailed({"name": N_("Another segment has this name.")})


def clean_segment(
    session: Session,
    data: Mapping[str, Any],
    *,
    segment_id: int | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Validate the given keys of a segment (all of name and conditions unless `partial`)."""
    values: dict[str, Any] = {}
    if "name" in data or not partial:
        values["name"] = clean_name(data.get("name"))
        _check_name(session, values["name"], segment_id)
    if "timezone" in data or not partial:
        values["timezone"] = clean_timezone(data.get("timezone"))
    if "conditions" in data or not partial:
        values["conditions"] = clean_conditions(session, data.get("conditions"))
    return values


def create_segment(data: Mapping[str, Any], *, actor=None, via: str = "web") -> Segment:
    """A new segment from {"name", "conditions", "timezone"?}. Raises ValidationFailed, TreeError."""
    values = clean_segment(db.session, data)
    segment = Segment(owner_id=getattr(actor, "id", None), **values)
    db.session.add(segment)
    db.session.flush()
    audit.record("create", "segment", segment.id, values, actor=actor, via=via)
    return segment


def update_segment(
    segment: Segment, data: Mapping[str, Any], *, actor=None, via: str = "web"
) -> dict[str, list[Any]]:
    """Change the keys given; returns {key: [old, new]} of what changed."""
    values = clean_segment(db.session, data, segment_id=segment.id, partial=True)
    changes = {k: [getattr(segment, k), v] for k, v in values.items() if getattr(segment, k) != v}
    for key, (_old, new) in changes.items():
        setattr(segment, key, new)
    if changes:
        db.session.flush()
        audit.record("update", "segment", segment.id, changes, actor=actor, via=via)
    return changes


def delete_segment(segment: Segment, *, actor=None, via: str = "web") -> None:
    """Delete a segment (its contacts are untouched)."""
    audit.record("delete", "segment", segment.id, {"name": segment.name}, actor=actor, via=via)
    db.session.delete(segment)


def get_segment(segment_id: int) -> Segment | None:
    return db.session.get(Segment, segment_id)


def condition(
    session: Session, segment: Segment, *, now: datetime | None = None
) -> ColumnElement[bool]:
    """The segment's WHERE clause over contacts (archived ones not excluded).
    Raises TreeError when the stored tree no longer applies (say a custom field it
    uses was deleted since)."""
    custom = compiler.custom_field_types(session)
    return compiler.condition(segment.conditions, custom, timezone=segment.timezone, now=now)


def count(session: Session, segment: Segment, *, now: datetime | None = None) -> int:
    """How many (non-archived) contacts the segment matches now. Raises TreeError."""
    custom = compiler.custom_field_types(session)
    return compiler.count(session, segment.conditions, custom, timezone=segment.timezone, now=now)


def try_count(session: Session, segment: Segment) -> tuple[int | None, TreeError | None]:
    """(count, None), or (None, error) when the stored tree no longer applies."""
    try:
        return count(session, segment), None
    except TreeError as exc:
        return None, exc


def preview(session: Session, conditions: Any, timezone: Any = None) -> int:
    """Count the contacts an unsaved tree matches. Raises TreeError, ValidationFailed."""
    tz = clean_timezone(timezone)
    custom = compiler.custom_field_types(session)
    tree = clean_conditions(session, conditions, custom)
    return compiler.count(session, tree, custom, timezone=tz)


def contacts_select(session: Session, segment: Segment, *, now: datetime | None = None):
    """SELECT Contact of the segment's non-archived contacts (unordered). Raises TreeError."""
    return select(Contact).where(
        condition(session, segment, now=now), Contact.archived_at.is_(None)
    )
