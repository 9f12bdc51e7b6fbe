"""Undo an import: delete the contacts it created, put back the values it changed
(unless someone changed them since), remove the tags and list memberships it added,
then the companies, tags and lists it created that nothing uses any more.

It reads the import's activities (event_name "import:<id>") in contact order, so it is a
resumable job like the import itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update

from app import audit
from app.companies.models import Company
from app.contacts import events
from app.contacts.custom import value_column
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.search import contact_search_text
from app.extensions import db
from app.imports.engine import (
    CONTACTS,
    batch_size,
    chunks,
    custom_row,
    event_name,
    insert_custom,
    json_value,
    stored_custom_values,
)
from app.imports.models import Import
from app.jobs import runner
from app.jobs.models import Job
from app.lists.models import ContactList, ListMembership
from app.pipeline.models import Deal
from app.segments.models import Segment
from app.timeline.models import Activity
from app.timeutil import utcnow


@runner.handler("import_undo")
def run_undo(run: runner.JobRun) -> dict[str, Any]:
    """Undo an import: delete what it created, restore what it changed, remove what it added."""
    imp = db.session.get(Import, run.params["import_id"])
    if imp is None:
        raise runner.JobFailed("The import was deleted.")
    checkpoint = dict(run.checkpoint or {"after": 0, "deleted": 0, "restored": 0, "kept": 0})
    name = event_name(imp.id)
    total = db.session.scalar(
        select(func.count()).select_from(Activity).where(Activity.event_name == name)
    )
    if run.checkpoint is None:
        run.progress(0, total)
    size = batch_size()
    now = utcnow()
    while True:
        rows = db.session.execute(
            select(Activity.id, Activity.contact_id, Activity.data)
            .where(Activity.event_name == name, Activity.contact_id > checkpoint["after"])
            .order_by(Activity.contact_id)
            .limit(size)
        ).all()
        if not rows:
            break
        created = [cid for _, cid, data in rows if (data or {}).get("action") == "created"]
        for chunk in chunks(created, 500):
            events.emit("deleted", chunk, via="import")
            db.session.execute(delete(Contact).where(Contact.id.in_(chunk)))
        checkpoint["deleted"] += len(created)
        restored_ids = []
        for aid, cid, data in rows:
            data = data or {}
            if data.get("action") != "updated" or data.get("undone"):
                continue
            restored, kept = _restore(cid, data, now)
            if restored:
                restored_ids.append(cid)
            checkpoint["restored"] += restored
            checkpoint["kept"] += kept
            db.session.execute(
                update(Activity).where(Activity.id == aid).values(data={**data, "undone": True})
            )
        events.emit("updated", restored_ids, via="import")
        checkpoint["after"] = rows[-1][1]
        run.progress(run.job.done + len(rows), total)
        run.commit(checkpoint)
    imp = db.session.get(Import, imp.id)
    job = db.session.get(Job, imp.job_id) if imp.job_id else None
    created = ((job.result or job.checkpoint or {}) if job else {}).get("new_records") or {}
    removed = remove_unused(created)
    imp.state = "undone"
    imp.undone_at = utcnow()
    result = {k: checkpoint[k] for k in ("deleted", "restored", "kept")}
    result["removed"] = removed
    audit.record("undo", "import", imp.id, {**result, "file": imp.filename}, via="import")
    return result


def _restore(contact_id: int, data: dict[str, Any], now: datetime) -> tuple[int, int]:
    """Put back the values an import changed, where nobody changed them since.

    Returns (fields restored, fields kept because they were edited after the import).
    """
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        return 0, 0
    restored = kept = 0
    values: dict[str, Any] = {}
    changes = data.get("changes") or {}
    for key, (before, after) in changes.items():
        if key.startswith("custom."):
            continue
        column = CONTACTS.c[key]
        current = json_value(getattr(contact, key))
        if current != after:
            kept += 1
            continue
        values[key] = audit.from_jsonable(column, before)
        restored += 1
    custom_keys = [k for k in changes if k.startswith("custom.")]
    if custom_keys:
        defs = {d.name: d for d in db.session.scalars(select(CustomField))}
        old = stored_custom_values([contact_id], {d.id for d in defs.values()})
        for key in custom_keys:
            d = defs.get(key[7:])
            if d is None:
                continue
            before, after = changes[key]
            if json_value(old.get((contact_id, d.id), [])) != after:
                kept += 1
                continue
            db.session.execute(
                delete(CustomFieldValue).where(
                    CustomFieldValue.contact_id == contact_id, CustomFieldValue.field_id == d.id
                )
            )
            col = value_column(d.type)
            vals = [audit.from_jsonable(CustomFieldValue.__table__.c[col], v) for v in before or []]
            if vals:
                insert_custom(
                    [
                        {"contact_id": contact_id, "field_id": d.id, **custom_row(col, v)}
                        for v in vals
                    ]
                )
            restored += 1
    if data.get("tags"):
        db.session.execute(
            delete(ContactTag).where(
                ContactTag.contact_id == contact_id, ContactTag.tag_id.in_(data["tags"])
            )
        )
    if data.get("lists"):
        db.session.execute(
            delete(ListMembership).where(
                ListMembership.contact_id == contact_id, ListMembership.list_id.in_(data["lists"])
            )
        )
    if values:
        for key, value in values.items():
            setattr(contact, key, value)
        company_name = None
        if contact.company_id:
            company_name = db.session.scalar(
                select(Company.name).where(Company.id == contact.company_id)
            )
        contact.search_text = contact_search_text(contact, company_name)
        contact.version += 1
        contact.updated_at = now
    db.session.flush()
    return restored, kept


def _ids(runs: list[list[int]]) -> list[int]:
    return [i for first, last in runs for i in range(first, last + 1)]


def _segment_lists() -> set[Any]:
    """The lists segments name (by id or casefolded name): they stay, even empty."""
    named: set[Any] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("list")
            if isinstance(ref, int):
                named.add(ref)
            elif isinstance(ref, str):
                named.add(ref.casefold())
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for conditions in db.session.scalars(select(Segment.conditions)):
        walk(conditions)
    return named


def remove_unused(created: dict[str, list[list[int]]]) -> dict[str, int]:
    """Delete the companies, tags and lists an import created (`created`: id runs by
    kind) that nothing uses once its contacts are gone: a company no contact, deal or
    activity refers to and nobody edited; a tag on no contact; a list without members or
    description that no segment names. Answers how many of each went."""
    removed = dict.fromkeys(("companies", "tags", "lists"), 0)
    for chunk in chunks(_ids(created.get("companies") or []), 500):
        unused = select(Company.id).where(
            Company.id.in_(chunk),
            Company.version == 1,
            ~exists().where(Contact.company_id == Company.id),
            ~exists().where(Deal.company_id == Company.id),
            ~exists().where(Activity.company_id == Company.id),
        )
        removed["companies"] += db.session.execute(
            delete(Company).where(Company.id.in_(unused))
        ).rowcount
    for chunk in chunks(_ids(created.get("tags") or []), 500):
        unused = select(Tag.id).where(
            Tag.id.in_(chunk), ~exists().where(ContactTag.tag_id == Tag.id)
        )
        removed["tags"] += db.session.execute(delete(Tag).where(Tag.id.in_(unused))).rowcount
    list_ids = _ids(created.get("lists") or [])
    if list_ids:
        named = _segment_lists()
        for chunk in chunks(list_ids, 500):
            rows = db.session.execute(
                select(ContactList.id, ContactList.name).where(
                    ContactList.id.in_(chunk),
                    ContactList.description.is_(None),
                    ~exists().where(ListMembership.list_id == ContactList.id),
                )
            ).all()
            ids = [i for i, name in rows if i not in named and name.casefold() not in named]
            if ids:
                db.session.execute(delete(ContactList).where(ContactList.id.in_(ids)))
                removed["lists"] += len(ids)
    return removed
