"""Merging two contacts and undoing a merge, inside the caller's transaction.

`merge()` snapshots both records, moves everything of the merged contact to the
survivor (activities, deals, list memberships, tags, custom values, the contacts that
refer to it, its links to connected accounts where the survivor has none), applies the
chosen field values, records what moved in a Merge row and deletes the merged contact.
`undo_merge()` puts the merged contact back with its id and every column as it was and
moves back exactly the rows that moved.

Undo and later edits: a survivor's field (or custom value, or list status) is put back
only while it still holds the value the merge gave it; a value someone changed after
the merge is kept (the same rule as undoing an import). A tag the merge added is
removed from the survivor; a list membership that moved goes back to the restored
contact, with its current status when that changed after the merge.

The bulk merge job (kind "dedupe_merge") merges every open pair scoring at least N,
one cluster (connected pairs) into one survivor at a time, with default choices.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from app import audit
from app.auth.models import User
from app.companies.models import Company
from app.contacts import events
from app.contacts.custom import value_column
from app.contacts.fields import BY_NAME, ValidationFailed
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.search import contact_search_text
from app.contacts.service import get_or_create_tags, validate
from app.dedupe import merge as merge_plan
from app.dedupe.models import DuplicatePair, Merge
from app.extensions import db
from app.i18n import N_, Message
from app.integrations.models import ConnectedAccount, ContactLink
from app.jobs import runner
from app.jobs.models import Job
from app.lists.models import ContactList, ListMembership
from app.pipeline.models import Deal
from app.timeline.dates import NOT_ACTIVITY, refresh_contact_dates
from app.timeline.models import Activity
from app.timeutil import utcnow

UNDO_DAYS = 30
CONTACT_TABLE = Contact.__table__
LINKS = ContactLink.__table__
REF_COLUMNS = ("reports_to_id", "referred_by_id")
COLUMN_TO_FIELD = {spec.db_column: spec.name for spec in BY_NAME.values()}


class MergeError(Exception):
    """A merge or undo refused; `status` is the HTTP status an API answers with."""

    STATUS = {"not_found": 404, "invalid": 422, "self": 422}

    def __init__(self, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra
        self.status = self.STATUS.get(code, 409)


def label(contact: Contact | dict[str, Any]) -> str:
    """ "First Last <email>", or the email alone."""
    get = contact.get if isinstance(contact, dict) else lambda k: getattr(contact, k, None)
    name = " ".join(p for p in (get("first_name"), get("middle_name"), get("last_name")) if p)
    return f"{name} <{get('email')}>" if name else str(get("email"))


# ---------------------------------------------------------------- reading records


def record(contact: Contact) -> dict[str, Any]:
    """The plain record app.dedupe.merge plans with (fields, tags, custom, lists, history)."""
    cid = contact.id
    fields = {
        name: getattr(contact, spec.db_column) for name, spec in BY_NAME.items() if spec.editable
    }
    custom: dict[str, list[Any]] = {}
    types: dict[str, str] = {}
    rows = db.session.execute(
        select(CustomField, CustomFieldValue)
        .join(CustomFieldValue, CustomFieldValue.field_id == CustomField.id)
        .where(CustomFieldValue.contact_id == cid)
        .order_by(CustomFieldValue.id)
    )
    for f, value in rows:
        custom.setdefault(f.name, []).append(getattr(value, value_column(f.type)))
        types[f.name] = f.type
    memberships = {
        m.list_id: {"status": m.status, "updated_at": m.updated_at}
        for m in db.session.scalars(select(ListMembership).where(ListMembership.contact_id == cid))
    }
    history = db.session.scalar(
        select(func.count())
        .select_from(Activity)
        .where(Activity.contact_id == cid, Activity.kind.not_in(NOT_ACTIVITY))
    ) + db.session.scalar(select(func.count()).select_from(Deal).where(Deal.contact_id == cid))
    tags = list(
        db.session.scalars(
            select(Tag.name)
            .join(ContactTag, ContactTag.tag_id == Tag.id)
            .where(ContactTag.contact_id == cid)
            .order_by(Tag.name)
        )
    )
    return {
        "id": cid,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "archived_at": contact.archived_at,
        "version": contact.version,
        "history": history,
        "fields": fields,
        "tags": tags,
        "custom": custom,
        "custom_types": types,
        "memberships": memberships,
    }


def snapshot(contact_id: int) -> dict[str, Any]:
    """Everything about a contact that a merge changes, JSON-safe (for undo and audit)."""
    row = db.session.execute(select(CONTACT_TABLE).where(CONTACT_TABLE.c.id == contact_id)).one()
    tags = [
        {"id": tid, "name": name}
        for tid, name in db.session.execute(
            select(Tag.id, Tag.name)
            .join(ContactTag, ContactTag.tag_id == Tag.id)
            .where(ContactTag.contact_id == contact_id)
            .order_by(Tag.id)
        )
    ]
    custom = [
        {
            "field_id": f.id,
            "name": f.name,
            "type": f.type,
            "value": audit.jsonable(getattr(v, value_column(f.type))),
        }
        for f, v in db.session.execute(
            select(CustomField, CustomFieldValue)
            .join(CustomFieldValue, CustomFieldValue.field_id == CustomField.id)
            .where(CustomFieldValue.contact_id == contact_id)
            .order_by(CustomFieldValue.id)
        )
    ]
    memberships = [
        {
            "list_id": m.list_id,
            "list": name,
            "status": m.status,
            "added_at": audit.jsonable(m.added_at),
            "updated_at": audit.jsonable(m.updated_at),
        }
        for m, name in db.session.execute(
            select(ListMembership, ContactList.name)
            .join(ContactList, ContactList.id == ListMembership.list_id)
            .where(ListMembership.contact_id == contact_id)
            .order_by(ListMembership.list_id)
        )
    ]
    return {
        "contact": {k: audit.jsonable(v) for k, v in row._mapping.items()},
        "tags": tags,
        "custom": custom,
        "memberships": memberships,
    }


def _display(column: str, value: Any) -> Any:
    """A field value as the timeline shows it (names for references)."""
    if value is None:
        return None
    if column == "company_id":
        return db.session.scalar(select(Company.name).where(Company.id == value)) or value
    if column == "owner_id":
        return db.session.scalar(select(User.email).where(User.id == value)) or value
    if column in REF_COLUMNS:
        return db.session.scalar(select(Contact.email).where(Contact.id == value)) or value
    return value


# ---------------------------------------------------------------- merge


def _resolve_fields(
    fields: dict[str, Any] | None, survivor: Contact, actor, via: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Split field choices into sides ("survivor"/"other"/"both") and validated values.

    A value given as {"value": x} is validated like an edit of the survivor; raises
    MergeError naming the field.
    """
    choices: dict[str, str] = {}
    raw_values: dict[str, Any] = {}
    for key, choice in (fields or {}).items():
        if isinstance(choice, dict) and set(choice) == {"value"}:
            raw_values[key] = choice["value"]
        elif isinstance(choice, str):
            choices[key] = choice
        else:
            raise MergeError(
                "invalid",
                N_('Choose "survivor", "other" or give {"value": ...}.'),
                field=key,
            )
    values: dict[str, Any] = {}
    if raw_values:
        standard = {k: v for k, v in raw_values.items() if not k.startswith("custom.")}
        custom = {k[7:]: v for k, v in raw_values.items() if k.startswith("custom.")}
        for key in standard:
            if key not in merge_plan.CHOICE_FIELDS:
                raise MergeError("invalid", N_("Unknown field."), field=key)
        try:
            by_column, _tags, custom_values = validate(
                {**standard, **({"custom_fields": custom} if custom else {})},
                survivor,
                actor=actor,
                via=via,
            )
        except ValidationFailed as exc:
            key, message = next(iter(exc.errors.items()))
            raise MergeError("invalid", message, field=key) from None
        values = {COLUMN_TO_FIELD.get(col, col): v for col, v in by_column.items()}
        values.update({f"custom.{name}": vals for name, vals in custom_values.items()})
    return choices, values


def _check_versions(contacts: list[Contact], versions: dict[int, Any] | None) -> None:
    for contact in contacts:
        expected = (versions or {}).get(contact.id)
        if expected is None or str(expected) == "":
            continue
        if str(expected) != str(contact.version):
            raise MergeError(
                "conflict",
                Message(
                    N_(
                        "%(name)s was changed by someone else since this page was shown; "
                        "nothing was merged. Look at the records again."
                    ),
                    name=label(contact),
                ),
                field="version",
            )


def _pair_row(pair: DuplicatePair) -> dict[str, Any]:
    return {
        "id": pair.id,
        "a": pair.contact_a_id,
        "b": pair.contact_b_id,
        "score": pair.score,
        "reasons": pair.reasons,
        "cluster_id": pair.cluster_id,
        "status": pair.status,
        "job_id": pair.job_id,
        "decided_by_id": pair.decided_by_id,
        "decided_at": audit.jsonable(pair.decided_at),
        "created_at": audit.jsonable(pair.created_at),
    }


def _move_pairs(sid: int, oid: int, pair_id: int | None, actor, now) -> dict[str, Any]:
    """Settle the suggested pairs of the merged contact before it goes (they cascade)."""
    out: dict[str, Any] = {
        "pair": None,
        "pairs_repointed": [],
        "pairs_dropped": [],
        "pairs_dismissed": [],
    }
    a, b = min(sid, oid), max(sid, oid)
    pair = db.session.scalar(
        select(DuplicatePair).where(
            DuplicatePair.contact_a_id == a, DuplicatePair.contact_b_id == b
        )
    )
    if pair_id is not None and (pair is None or pair.id != pair_id):
        raise MergeError(
            "invalid", N_("This suggestion is not about these two contacts."), field="pair_id"
        )
    if pair is not None:
        # Its row goes with the merged contact (the foreign key cascades): kept here as
        # "merged", with what it was before so an undo puts it back (an open pair open).
        row = _pair_row(pair)
        row["previous"] = {
            "status": pair.status,
            "decided_by_id": pair.decided_by_id,
            "decided_at": audit.jsonable(pair.decided_at),
        }
        row.update(
            status="merged",
            decided_by_id=getattr(actor, "id", None),
            decided_at=audit.jsonable(now),
        )
        out["pair"] = row
    others = db.session.scalars(
        select(DuplicatePair).where(
            or_(DuplicatePair.contact_a_id == oid, DuplicatePair.contact_b_id == oid),
            DuplicatePair.id != (pair.id if pair is not None else -1),
        )
    ).all()
    for p in others:
        x = p.contact_b_id if p.contact_a_id == oid else p.contact_a_id
        na, nb = min(sid, x), max(sid, x)
        existing = db.session.scalar(
            select(DuplicatePair).where(
                DuplicatePair.contact_a_id == na, DuplicatePair.contact_b_id == nb
            )
        )
        if existing is None:
            out["pairs_repointed"].append({"id": p.id, "a": p.contact_a_id, "b": p.contact_b_id})
            db.session.execute(
                update(DuplicatePair)
                .where(DuplicatePair.id == p.id)
                .values(contact_a_id=na, contact_b_id=nb)
            )
            continue
        out["pairs_dropped"].append(_pair_row(p))
        if p.status == "dismissed" and existing.status == "open":
            # "Not a duplicate" said of the merged record holds for the survivor too.
            out["pairs_dismissed"].append(
                {
                    "id": existing.id,
                    "decided_by_id": existing.decided_by_id,
                    "decided_at": audit.jsonable(existing.decided_at),
                }
            )
            db.session.execute(
                update(DuplicatePair)
                .where(DuplicatePair.id == existing.id)
                .values(status="dismissed", decided_by_id=p.decided_by_id, decided_at=p.decided_at)
            )
        db.session.execute(delete(DuplicatePair).where(DuplicatePair.id == p.id))
    db.session.expire_all()
    return out


def _move_links(sid: int, oid: int) -> tuple[list[list[int]], list[dict[str, Any]]]:
    """The merged contact's links to connected accounts: at an account where the
    survivor has none, the survivor takes it (the provider's record stays matched, so the
    next sync does not create the merged contact again, and the next push sends it the
    merged values); the others go with the merged contact. Answers ([id, synced
    version] moved, rows dropped) for undo."""
    held = set(db.session.scalars(select(LINKS.c.account_id).where(LINKS.c.contact_id == sid)))
    moved: list[list[int]] = []
    dropped: list[dict[str, Any]] = []
    rows = db.session.execute(select(LINKS).where(LINKS.c.contact_id == oid).order_by(LINKS.c.id))
    for link in rows.mappings().all():
        if link["account_id"] in held:
            dropped.append({k: audit.jsonable(v) for k, v in link.items()})
        else:
            moved.append([link["id"], link["synced_version"]])
    if moved:
        db.session.execute(
            update(LINKS)
            .where(LINKS.c.id.in_([i for i, _ in moved]))
            .values(contact_id=sid, synced_version=0)
        )
    return moved, dropped


def _restore_links(moved: dict[str, Any], sid: int, rid: int) -> None:
    """Links as they were before the merge, on the restored contact (`rid`); a dropped
    one only while its account is connected and nothing else holds its place."""
    for link_id, version in moved.get("links") or []:
        db.session.execute(
            update(LINKS)
            .where(LINKS.c.id == link_id, LINKS.c.contact_id == sid)
            .values(contact_id=rid, synced_version=version)
        )
    for row in moved.get("links_dropped") or []:
        values = {
            c.name: audit.from_jsonable(c, row.get(c.name)) for c in LINKS.columns if c.name != "id"
        }
        values["contact_id"] = rid
        taken = db.session.scalar(
            select(LINKS.c.id).where(
                LINKS.c.account_id == values["account_id"],
                or_(LINKS.c.remote_id == values["remote_id"], LINKS.c.contact_id == rid),
            )
        )
        if taken is None and db.session.get(ConnectedAccount, values["account_id"]) is not None:
            db.session.execute(insert(LINKS).values(**values))


def merge(
    survivor_id: int,
    other_id: int,
    *,
    fields: dict[str, Any] | None = None,
    actor=None,
    via: str = "web",
    pair_id: int | None = None,
    versions: dict[int, Any] | None = None,
) -> Merge:
    """Merge contact `other_id` into `survivor_id`; the caller commits.

    `fields` maps a field name ("email", "custom.size") to "survivor" or "other" ("both"
    for a multi-select) or {"value": x}; missing fields take the default choice
    (app.dedupe.merge). `versions` ({contact id: version}) refuses the merge when either
    record changed since it was shown. Raises MergeError.
    """
    if survivor_id == other_id:
        raise MergeError(
            "self", N_("A contact cannot be merged with itself."), field="duplicate_id"
        )
    survivor = db.session.get(Contact, survivor_id)
    other = db.session.get(Contact, other_id)
    for cid, contact, field in ((survivor_id, survivor, None), (other_id, other, "duplicate_id")):
        if contact is None:
            raise MergeError(
                "not_found", Message(N_("No contact with id %(id)s."), id=cid), field=field
            )
    _check_versions([survivor, other], versions)
    choices, values = _resolve_fields(fields, survivor, actor, via)
    if "email" in values and values["email"] not in (survivor.email, other.email):
        taken = db.session.scalar(select(Contact.id).where(Contact.email == values["email"]))
        if taken:
            raise MergeError("invalid", N_("Another contact has this email."), field="email")
    s_rec, o_rec = record(survivor), record(other)
    try:
        plan = merge_plan.plan(s_rec, o_rec, choices, values)
    except merge_plan.PlanError as exc:
        raise MergeError("invalid", exc.message, field=exc.field) from None
    now = utcnow()
    sid, oid = survivor_id, other_id
    before = snapshot(sid)
    merged_snapshot = snapshot(oid)
    moved: dict[str, Any] = {}

    # Timeline and deals.
    moved["activities"] = list(
        db.session.scalars(
            select(Activity.id).where(Activity.contact_id == oid).order_by(Activity.id)
        )
    )
    db.session.execute(update(Activity).where(Activity.contact_id == oid).values(contact_id=sid))
    moved["deals"] = list(
        db.session.scalars(select(Deal.id).where(Deal.contact_id == oid).order_by(Deal.id))
    )
    db.session.execute(update(Deal).where(Deal.contact_id == oid).values(contact_id=sid))
    moved["links"], moved["links_dropped"] = _move_links(sid, oid)
    # Contacts that refer to the merged one now refer to the survivor.
    for column in REF_COLUMNS:
        col = CONTACT_TABLE.c[column]
        ids = list(
            db.session.scalars(
                select(CONTACT_TABLE.c.id)
                .where(col == oid, CONTACT_TABLE.c.id != sid)
                .order_by(CONTACT_TABLE.c.id)
            )
        )
        moved[column] = ids
        if ids:
            db.session.execute(
                update(CONTACT_TABLE).where(CONTACT_TABLE.c.id.in_(ids)).values({column: sid})
            )
    # Tags (union).
    tag_ids = []
    if plan.tags_added:
        keys = [t.casefold() for t in plan.tags_added]
        tag_ids = list(db.session.scalars(select(Tag.id).where(Tag.key.in_(keys)).order_by(Tag.id)))
        for tid in tag_ids:
            db.session.add(ContactTag(contact_id=sid, tag_id=tid))
    moved["tags_added"] = tag_ids
    # Lists.
    moved["lists_moved"] = list(plan.lists_moved)
    if plan.lists_moved:
        db.session.execute(
            update(ListMembership)
            .where(ListMembership.contact_id == oid, ListMembership.list_id.in_(plan.lists_moved))
            .values(contact_id=sid)
        )
    moved["lists_status"] = {}
    for list_id, status in plan.list_status.items():
        old = s_rec["memberships"][list_id]["status"]
        moved["lists_status"][str(list_id)] = [old, status]
        db.session.execute(
            update(ListMembership)
            .where(ListMembership.contact_id == sid, ListMembership.list_id == list_id)
            .values(status=status, updated_at=now)
        )
    # Custom values.
    custom_changes: dict[str, list[Any]] = {}
    if plan.custom:
        defs = {
            d.name: d
            for d in db.session.scalars(
                select(CustomField).where(CustomField.name.in_(list(plan.custom)))
            )
        }
        for name, new in plan.custom.items():
            d = defs[name]
            custom_changes[name] = [
                audit.jsonable(s_rec["custom"].get(name, [])),
                audit.jsonable(new),
            ]
            db.session.execute(
                delete(CustomFieldValue).where(
                    CustomFieldValue.contact_id == sid, CustomFieldValue.field_id == d.id
                )
            )
            col = value_column(d.type)
            for v in new:
                db.session.add(CustomFieldValue(contact_id=sid, field_id=d.id, **{col: v}))
    db.session.flush()
    # Suggested pairs, and earlier merges the merged contact survived.
    moved.update(_move_pairs(sid, oid, pair_id, actor, now))
    moved["survivor_of"] = list(
        db.session.scalars(select(Merge.id).where(Merge.survivor_id == oid).order_by(Merge.id))
    )
    # The merged contact goes (its own tags, values and remaining memberships with it).
    other = db.session.get(Contact, oid)
    if other is not None:
        db.session.expunge(other)
    db.session.execute(delete(CONTACT_TABLE).where(CONTACT_TABLE.c.id == oid))
    # The survivor takes the chosen values.
    survivor = db.session.get(Contact, sid)
    changes: dict[str, list[Any]] = {}
    shown: dict[str, list[Any]] = {}
    for name, value in plan.changes.items():
        column = BY_NAME[name].db_column
        old = getattr(survivor, column)
        changes[column] = [audit.jsonable(old), audit.jsonable(value)]
        shown[name] = [_display(column, old), _display(column, value)]
        setattr(survivor, column, value)
    if plan.unarchive:
        changes["archived_at"] = [audit.jsonable(survivor.archived_at), None]
        survivor.archived_at = None
    for name, (old, new) in custom_changes.items():
        shown[f"custom.{name}"] = [old or None, new or None]
    if plan.tags_added:
        shown["tags"] = {"added": plan.tags_added, "removed": []}
    survivor.version += 1
    survivor.updated_at = now
    company = (
        db.session.scalar(select(Company.name).where(Company.id == survivor.company_id))
        if survivor.company_id
        else None
    )
    survivor.search_text = contact_search_text(survivor, company)
    db.session.flush()
    row = Merge(
        survivor_id=sid,
        merged_contact_id=oid,
        survivor_before=before,
        merged_snapshot=merged_snapshot,
        moved=moved,
        fields={"choices": plan.choices, "changes": changes, "custom": custom_changes},
        pair_id=None,  # the pair went with the merged contact; it is kept in moved["pair"]
        user_id=getattr(actor, "id", None),
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    activity = Activity(
        contact_id=sid,
        user_id=getattr(actor, "id", None),
        kind="merge",
        subject=label(merged_snapshot["contact"])[:500],
        # Nested, so a timeline that shows an activity's plain data values shows none.
        data={
            "merge": {"id": row.id, "merged_id": oid, "via": via},
            "changes": audit.jsonable(shown),
        },
        source=via,
        occurred_at=now,
    )
    db.session.add(activity)
    db.session.flush()
    row.moved = {**moved, "merge_activity": activity.id}
    audit.record(
        "merge",
        "contact",
        sid,
        {
            "merge_id": row.id,
            "merged_id": oid,
            "survivor": before,
            "merged": merged_snapshot,
            "fields": row.fields,
        },
        actor=actor,
        via=via,
    )
    db.session.flush()
    refresh_contact_dates(db.session, [sid])
    events.emit("merged", [sid], survivor=sid, merged=oid, via=via)
    return db.session.get(Merge, row.id)


# ---------------------------------------------------------------- undo


def undo_deadline(m: Merge) -> datetime:
    return m.created_at + timedelta(days=UNDO_DAYS)


def can_undo(m: Merge, now: datetime | None = None) -> bool:
    """Not undone yet, younger than UNDO_DAYS, and its survivor still exists."""
    now = now or utcnow()
    return m.undone_at is None and m.survivor_id is not None and undo_deadline(m) > now


def _json_equal(a: Any, b: Any) -> bool:
    return audit.jsonable(a) == audit.jsonable(b)


def _fk_or_none(model, value: Any) -> Any:
    if value is None:
        return None
    return value if db.session.get(model, value) is not None else None


def undo_merge(merge_id: int, *, actor=None, via: str = "web") -> Merge:
    """Put the merged contact back as it was and move back what moved; the caller commits.

    Raises MergeError: unknown merge, undone already, older than UNDO_DAYS, survivor
    gone, or the merged email now used by another contact.
    """
    m = db.session.get(Merge, merge_id)
    if m is None:
        raise MergeError("not_found", Message(N_("No merge with id %(id)s."), id=merge_id))
    if m.undone_at is not None:
        raise MergeError("undone", N_("This merge was undone already."))
    now = utcnow()
    if undo_deadline(m) <= now:
        raise MergeError(
            "expired",
            Message(
                N_("A merge can be undone for %(days)s days; this one is older."), days=UNDO_DAYS
            ),
        )
    survivor = db.session.get(Contact, m.survivor_id) if m.survivor_id else None
    if survivor is None:
        raise MergeError(
            "gone",
            N_(
                "The contact this merge kept no longer exists (deleted, or merged into another: "
                "undo that merge first)."
            ),
        )
    sid = survivor.id
    snap = m.merged_snapshot
    cols = dict(snap["contact"])
    moved = dict(m.moved or {})
    fields = dict(m.fields or {})
    changes: dict[str, list[Any]] = fields.get("changes") or {}

    survivor.version += 1
    survivor.updated_at = now
    # 1. The survivor's columns the merge set and nobody changed since.
    restore: dict[str, Any] = {}
    kept: list[str] = []
    for column, (old, new) in changes.items():
        if _json_equal(getattr(survivor, column), new):
            restore[column] = audit.from_jsonable(CONTACT_TABLE.c[column], old)
        else:
            kept.append(column)
    later = {c: v for c, v in restore.items() if c in REF_COLUMNS and v == m.merged_contact_id}
    for column, value in restore.items():
        if column not in later:
            setattr(survivor, column, value)
    db.session.flush()
    holder = db.session.scalar(select(Contact).where(Contact.email == cols["email"]))
    if holder is not None:
        raise MergeError(
            "email_taken",
            Message(
                N_("%(email)s now belongs to %(name)s, so the merged contact cannot come back."),
                email=cols["email"],
                name=label(holder),
            ),
            contact_id=holder.id,
        )
    # 2. The merged contact, with its id and every column as they were.
    row = {
        c.name: audit.from_jsonable(c, cols.get(c.name))
        for c in CONTACT_TABLE.columns
        if c.name in cols
    }
    row["company_id"] = _fk_or_none(Company, row.get("company_id"))
    row["owner_id"] = _fk_or_none(User, row.get("owner_id"))
    for column in REF_COLUMNS:
        row[column] = _fk_or_none(Contact, row.get(column))
    if db.session.get(Contact, m.merged_contact_id) is not None:
        row.pop("id")  # SQLite gave the id to a newer contact: take a new one
    rid = db.session.execute(
        insert(CONTACT_TABLE).values(**row).returning(CONTACT_TABLE.c.id)
    ).scalar_one()
    for column in later:
        setattr(survivor, column, rid)
    # 3. Tags, custom values and memberships of both.
    if moved.get("tags_added"):
        db.session.execute(
            delete(ContactTag).where(
                ContactTag.contact_id == sid, ContactTag.tag_id.in_(moved["tags_added"])
            )
        )
    by_id = {
        t.id: t
        for t in db.session.scalars(select(Tag).where(Tag.id.in_([t["id"] for t in snap["tags"]])))
    }
    missing = [t["name"] for t in snap["tags"] if t["id"] not in by_id]
    tag_ids = {t.id for t in by_id.values()} | {
        t.id for t in (get_or_create_tags(missing) if missing else [])
    }
    for tid in sorted(tag_ids):
        db.session.add(ContactTag(contact_id=rid, tag_id=tid))
    defs = {d.id: d for d in db.session.scalars(select(CustomField))}
    for name, (old, new) in (fields.get("custom") or {}).items():
        d = next((x for x in defs.values() if x.name == name), None)
        if d is None:
            continue
        col = value_column(d.type)
        current = list(
            db.session.scalars(
                select(getattr(CustomFieldValue, col))
                .where(CustomFieldValue.contact_id == sid, CustomFieldValue.field_id == d.id)
                .order_by(CustomFieldValue.id)
            )
        )
        if not _json_equal(current, new):
            kept.append(f"custom.{name}")
            continue
        db.session.execute(
            delete(CustomFieldValue).where(
                CustomFieldValue.contact_id == sid, CustomFieldValue.field_id == d.id
            )
        )
        for v in old or []:
            db.session.add(
                CustomFieldValue(
                    contact_id=sid,
                    field_id=d.id,
                    **{col: audit.from_jsonable(CustomFieldValue.__table__.c[col], v)},
                )
            )
    for item in snap["custom"]:
        d = defs.get(item["field_id"])
        if d is None or d.type != item["type"]:
            continue
        col = value_column(d.type)
        value = audit.from_jsonable(CustomFieldValue.__table__.c[col], item["value"])
        db.session.add(CustomFieldValue(contact_id=rid, field_id=d.id, **{col: value}))
    lists = set(db.session.scalars(select(ContactList.id)))
    moved_lists = set(moved.get("lists_moved") or [])
    for item in snap["memberships"]:
        list_id = item["list_id"]
        if list_id not in lists:
            continue
        status = item["status"]
        updated_at = audit.from_jsonable(ListMembership.__table__.c.updated_at, item["updated_at"])
        if list_id in moved_lists:
            current = db.session.get(ListMembership, (list_id, sid))
            if current is None:
                continue  # taken off the list after the merge: stays off
            if current.status != status:
                status, updated_at = current.status, current.updated_at
            db.session.delete(current)
            db.session.flush()
        db.session.add(
            ListMembership(
                list_id=list_id,
                contact_id=rid,
                status=status,
                added_at=audit.from_jsonable(ListMembership.__table__.c.added_at, item["added_at"]),
                updated_at=updated_at,
            )
        )
    for list_id, (old, new) in (moved.get("lists_status") or {}).items():
        current = db.session.get(ListMembership, (int(list_id), sid))
        if current is not None and current.status == new:
            current.status = old
            before = next(
                (x for x in m.survivor_before["memberships"] if x["list_id"] == int(list_id)), None
            )
            if before is not None:
                current.updated_at = audit.from_jsonable(
                    ListMembership.__table__.c.updated_at, before["updated_at"]
                )
    # 4. Activities, deals, referring contacts and links move back.
    if moved.get("activities"):
        db.session.execute(
            update(Activity)
            .where(Activity.id.in_(moved["activities"]), Activity.contact_id == sid)
            .values(contact_id=rid)
        )
    if moved.get("deals"):
        db.session.execute(
            update(Deal)
            .where(Deal.id.in_(moved["deals"]), Deal.contact_id == sid)
            .values(contact_id=rid)
        )
    for column in REF_COLUMNS:
        ids = moved.get(column) or []
        if ids:
            col = CONTACT_TABLE.c[column]
            db.session.execute(
                update(CONTACT_TABLE)
                .where(CONTACT_TABLE.c.id.in_(ids), col == sid)
                .values({column: rid})
            )
    _restore_links(moved, sid, rid)
    # 5. Suggested pairs and earlier merges.
    _restore_pairs(moved, sid, rid, m.merged_contact_id)
    if moved.get("survivor_of"):
        db.session.execute(
            update(Merge)
            .where(Merge.id.in_(moved["survivor_of"]), Merge.survivor_id.is_(None))
            .values(survivor_id=rid)
        )
    # 6. The survivor's search text; the timeline, audit and events.
    company = (
        db.session.scalar(select(Company.name).where(Company.id == survivor.company_id))
        if survivor.company_id
        else None
    )
    survivor.search_text = contact_search_text(survivor, company)
    merge_activity = db.session.get(Activity, moved.get("merge_activity") or 0)
    if merge_activity is not None:
        data = dict(merge_activity.data or {})
        data["merge"] = {
            **(data.get("merge") or {}),
            "undone_at": audit.jsonable(now),
            "undone_by": getattr(actor, "id", None),
        }
        merge_activity.data = data
    user_id = getattr(actor, "id", None)
    db.session.add(
        Activity(
            contact_id=sid,
            user_id=user_id,
            kind="merge",
            subject=label(cols)[:500],
            data={
                "merge": {"id": m.id, "undo": True, "restored_id": rid, "via": via},
                "kept": kept,
            },
            source=via,
            occurred_at=now,
        )
    )
    db.session.add(
        Activity(
            contact_id=rid,
            user_id=user_id,
            kind="merge",
            subject=label(survivor)[:500],
            data={"merge": {"id": m.id, "undo": True, "survivor_id": sid, "via": via}},
            source=via,
            occurred_at=now,
        )
    )
    m.undone_at = now
    m.moved = {**moved, "restored_id": rid, "kept": kept}
    audit.record(
        "merge_undo",
        "contact",
        sid,
        {"merge_id": m.id, "restored_id": rid, "kept": kept},
        actor=actor,
        via=via,
    )
    db.session.flush()
    refresh_contact_dates(db.session, [sid, rid])
    events.emit("created", [rid], via=via)
    events.emit("updated", [sid], fields=None, via=via)
    return db.session.get(Merge, merge_id)


def _restore_pairs(moved: dict[str, Any], sid: int, rid: int, old_id: int) -> None:
    """Suggested pairs as they were before the merge (the merged pair open again)."""

    def remap(cid: int) -> int:
        return rid if cid == old_id else cid

    def insert_pair(item: dict[str, Any], status: str, decided_by_id, decided_at) -> None:
        a, b = sorted((remap(item["a"]), remap(item["b"])))
        if db.session.get(Contact, a) is None or db.session.get(Contact, b) is None:
            return
        taken = db.session.scalar(
            select(DuplicatePair.id).where(
                or_(
                    DuplicatePair.id == item["id"],
                    (DuplicatePair.contact_a_id == a) & (DuplicatePair.contact_b_id == b),
                )
            )
        )
        values = {
            "contact_a_id": a,
            "contact_b_id": b,
            "score": item["score"],
            "reasons": item["reasons"],
            "cluster_id": item["cluster_id"],
            "status": status,
            "job_id": item["job_id"],
            "decided_by_id": _fk_or_none(User, decided_by_id),
            "decided_at": audit.from_jsonable(DuplicatePair.__table__.c.decided_at, decided_at),
            "created_at": audit.from_jsonable(
                DuplicatePair.__table__.c.created_at, item["created_at"]
            ),
        }
        if taken is None:
            values["id"] = item["id"]
        elif db.session.scalar(
            select(DuplicatePair.id).where(
                DuplicatePair.contact_a_id == a, DuplicatePair.contact_b_id == b
            )
        ):
            return
        values["job_id"] = _fk_or_none(Job, values["job_id"])
        db.session.execute(insert(DuplicatePair).values(**values))

    pair = moved.get("pair")
    if pair:
        before = pair.get("previous") or {"status": "open"}
        insert_pair(pair, before["status"], before.get("decided_by_id"), before.get("decided_at"))
    for item in moved.get("pairs_repointed") or []:
        a, b = sorted((remap(item["a"]), remap(item["b"])))
        current = db.session.get(DuplicatePair, item["id"])
        if current is None:
            continue
        clash = db.session.scalar(
            select(DuplicatePair.id).where(
                DuplicatePair.contact_a_id == a, DuplicatePair.contact_b_id == b
            )
        )
        if clash is None:
            current.contact_a_id, current.contact_b_id = a, b
    for item in moved.get("pairs_dismissed") or []:
        current = db.session.get(DuplicatePair, item["id"])
        if current is not None and current.status == "dismissed":
            current.status = "open"
            current.decided_by_id = _fk_or_none(User, item["decided_by_id"])
            current.decided_at = audit.from_jsonable(
                DuplicatePair.__table__.c.decided_at, item["decided_at"]
            )
    for item in moved.get("pairs_dropped") or []:
        insert_pair(item, item["status"], item["decided_by_id"], item["decided_at"])
    db.session.flush()


# ---------------------------------------------------------------- dismiss


def dismiss(pair_id: int, *, actor=None, via: str = "web") -> DuplicatePair:
    """ "Not a duplicate": the pair is kept as dismissed so no scan suggests it again."""
    pair = db.session.get(DuplicatePair, pair_id)
    if pair is None:
        raise MergeError(
            "not_found", Message(N_("No suggested duplicate with id %(id)s."), id=pair_id)
        )
    if pair.status == "dismissed":
        return pair
    old = pair.status
    pair.status = "dismissed"
    pair.decided_by_id = getattr(actor, "id", None)
    pair.decided_at = utcnow()
    audit.record(
        "dismiss",
        "duplicate_pair",
        pair.id,
        {"status": [old, "dismissed"], "contacts": [pair.contact_a_id, pair.contact_b_id]},
        actor=actor,
        via=via,
    )
    db.session.flush()
    return pair


# ---------------------------------------------------------------- bulk merge job


def pick_survivor(contact_ids: list[int]) -> int | None:
    """The survivor of a cluster by the default rule (longest history, then oldest),
    read in three grouped queries."""
    ids = [int(i) for i in contact_ids]
    rows = db.session.execute(
        select(Contact.id, Contact.created_at).where(Contact.id.in_(ids))
    ).all()
    if not rows:
        return None
    activities = dict(
        db.session.execute(
            select(Activity.contact_id, func.count())
            .where(Activity.contact_id.in_(ids), Activity.kind.not_in(NOT_ACTIVITY))
            .group_by(Activity.contact_id)
        ).all()
    )
    deals = dict(
        db.session.execute(
            select(Deal.contact_id, func.count())
            .where(Deal.contact_id.in_(ids))
            .group_by(Deal.contact_id)
        ).all()
    )
    records = [
        {"id": cid, "created_at": created, "history": activities.get(cid, 0) + deals.get(cid, 0)}
        for cid, created in rows
    ]
    best = records[0]
    for candidate in records[1:]:
        best, _other = merge_plan.choose_survivor(best, candidate)
    return best["id"]


BULK_COMMIT_EVERY = 25


@runner.handler("dedupe_merge")
def run_bulk_merge(run: runner.JobRun) -> dict[str, Any]:
    """Merge every open pair scoring at least `min_score` (and not newer than the
    preview, `max_pair_id`) with default choices, one cluster into one survivor.

    Resumable: merged pairs are gone when it restarts, so the clusters left are the
    ones still to do; the counts live in the checkpoint.
    """
    from app.dedupe import queue

    min_score = int(run.params["min_score"])
    max_pair_id = run.params.get("max_pair_id")
    actor = db.session.get(User, run.job.user_id) if run.job.user_id else None
    checkpoint = dict(run.checkpoint or {"merged": 0, "skipped": 0, "failed": 0, "clusters": 0})
    clusters = queue.components(db.session, min_score, max_pair_id)
    if "total" not in checkpoint:
        checkpoint["total"] = sum(len(c) - 1 for c in clusters)
    total = checkpoint["total"]
    run.progress(checkpoint["merged"] + checkpoint["skipped"] + checkpoint["failed"], total)
    since_commit = 0
    for members in clusters:
        survivor_id = pick_survivor(members)
        if survivor_id is None:
            checkpoint["skipped"] += len(members) - 1
            continue
        for other_id in members:
            if other_id == survivor_id:
                continue
            if db.session.get(Contact, other_id) is None:
                checkpoint["skipped"] += 1  # merged away meanwhile
                continue
            try:
                with db.session.begin_nested():
                    merge(survivor_id, other_id, actor=actor, via="bulk")
                checkpoint["merged"] += 1
            except MergeError as exc:
                checkpoint["failed"] += 1
                run.error(
                    f"{label(db.session.get(Contact, other_id) or {'email': other_id})}: {exc.message}"
                )
            since_commit += 1
        checkpoint["clusters"] += 1
        done = checkpoint["merged"] + checkpoint["skipped"] + checkpoint["failed"]
        run.progress(done, total)
        if since_commit >= BULK_COMMIT_EVERY:
            run.commit(dict(checkpoint))
            since_commit = 0
    run.progress(checkpoint["merged"] + checkpoint["skipped"] + checkpoint["failed"], total)
    audit.record(
        "bulk_merge",
        "duplicate_pair",
        None,
        {
            "min_score": min_score,
            **{k: checkpoint[k] for k in ("merged", "skipped", "failed", "clusters")},
        },
        actor=actor,
        via="bulk",
    )
    return {k: checkpoint[k] for k in ("merged", "skipped", "failed", "clusters", "total")} | {
        "min_score": min_score
    }
