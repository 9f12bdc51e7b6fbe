"""Tags management: create, rename, merge and delete, with contact counts.

A tag's key is the casefold of its name and is unique, so "VIP" and "vip" are
one tag. Every write leaves an audit entry in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, literal, select

from app import audit
from app.contacts import events
from app.contacts.fields import ValidationFailed
from app.contacts.models import ContactTag, Tag
from app.extensions import db
from app.i18n import N_


def clean_tag_name(name: str | None) -> str:
    """A tag name, trimmed, 1 to 100 characters (pure). Raises ValidationFailed."""
    text = " ".join(str(name or "").split())
    if not text:
        raise ValidationFailed({"name": N_("A tag needs a name.")})
    if len(text) > 100:
        raise ValidationFailed({"name": N_("A tag is at most 100 characters.")})
    return text


def tag_key(name: str) -> str:
    return name.casefold()


def overview() -> list[tuple[Tag, int]]:
    """Every tag by name with its number of contacts (one grouped query)."""
    counts = (
        select(ContactTag.tag_id, func.count().label("n")).group_by(ContactTag.tag_id).subquery()
    )
    rows = db.session.execute(
        select(Tag, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.tag_id == Tag.id)
        .order_by(Tag.key)
    )
    return [(tag, n) for tag, n in rows]


def contact_count(tag_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(ContactTag).where(ContactTag.tag_id == tag_id)
        )
        or 0
    )


def _clash(key: str, tag_id: int | None) -> Tag | None:
    query = select(Tag).where(Tag.key == key)
    if tag_id is not None:
        query = query.where(Tag.id != tag_id)
    return db.session.scalar(query)


def create_tag(name: str | None, *, actor=None, via: str = "web") -> Tag:
    """A new tag. Raises ValidationFailed when the name is empty or taken."""
    text = clean_tag_name(name)
    if _clash(tag_key(text), None):
        raise ValidationFailed({"name": N_("This tag exists already.")})
    tag = Tag(name=text, key=tag_key(text))
    db.session.add(tag)
    db.session.flush()
    audit.record("create", "tag", tag.id, {"name": text}, actor=actor, via=via)
    return tag


def rename_tag(tag: Tag, name: str | None, *, actor=None, via: str = "web") -> bool:
    """Rename a tag (changing only its case is allowed); False when nothing changed.

    Raises ValidationFailed when another tag has the name: merge them instead.
    """
    text = clean_tag_name(name)
    if text == tag.name:
        return False
    if _clash(tag_key(text), tag.id):
        raise ValidationFailed(
            {"name": N_("Another tag has this name. Merge the two tags instead.")}
        )
    audit.record("update", "tag", tag.id, {"name": [tag.name, text]}, actor=actor, via=via)
    tag.name = text
    tag.key = tag_key(text)
    db.session.flush()
    events.emit("updated", _holders(tag.id), fields=("tags",), via=via)
    return True


def _holders(tag_id: int) -> list[int]:
    """Ids of the contacts carrying a tag (read before its rows change)."""
    return list(
        db.session.scalars(select(ContactTag.contact_id).where(ContactTag.tag_id == tag_id))
    )


def merge_tag(source: Tag, target: Tag, *, actor=None, via: str = "web") -> int:
    """Move every contact of `source` to `target` and delete `source`; returns contacts moved."""
    if source.id == target.id:
        raise ValidationFailed({"target": N_("Choose another tag to merge into.")})
    already = select(ContactTag.contact_id).where(ContactTag.tag_id == target.id)
    to_move = select(ContactTag.contact_id).where(
        ContactTag.tag_id == source.id, ContactTag.contact_id.not_in(already)
    )
    db.session.flush()
    holders = _holders(source.id)
    moved = db.session.scalar(select(func.count()).select_from(to_move.subquery())) or 0
    db.session.execute(
        insert(ContactTag).from_select(
            ["contact_id", "tag_id"], to_move.add_columns(literal(target.id))
        )
    )
    db.session.execute(delete(ContactTag).where(ContactTag.tag_id == source.id))
    audit.record(
        "merge",
        "tag",
        target.id,
        {"merged": source.name, "merged_id": source.id, "into": target.name, "moved": moved},
        actor=actor,
        via=via,
    )
    db.session.delete(source)
    db.session.flush()
    events.emit("updated", holders, fields=("tags",), via=via)
    return moved


def delete_tag(tag: Tag, *, actor=None, via: str = "web") -> int:
    """Delete a tag and take it off every contact; returns how many contacts had it."""
    holders = _holders(tag.id)
    removed = len(holders)
    db.session.execute(delete(ContactTag).where(ContactTag.tag_id == tag.id))
    audit.record(
        "delete", "tag", tag.id, {"name": tag.name, "contacts": removed}, actor=actor, via=via
    )
    db.session.delete(tag)
    db.session.flush()
    events.emit("updated", holders, fields=("tags",), via=via)
    return removed
