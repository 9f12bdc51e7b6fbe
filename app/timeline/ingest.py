"""Activity ingestion: validate activities sent by the API (or an integration) and store
them in one pass, idempotently by `external_id`, moving the contacts' last activity and
last contacted dates forward.

`clean_activity` is pure; `resolve_contacts` and `ingest` work in the caller's session
and transaction (the caller commits). Nothing is written unless every item is valid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.contacts import events
from app.contacts.fields import FieldError, clean_email
from app.contacts.models import Contact
from app.i18n import N_, Message
from app.timeline.models import ACTIVITY_KINDS, CONTACTING_KINDS, Activity
from app.timeutil import utcnow

MAX_DATA_BYTES = 10_000
MAX_SUBJECT = 500
MAX_BODY = 100_000
MAX_EVENT_NAME = 100
MAX_EXTERNAL_ID = 255
MAX_SOURCE = 50
# A clock a little ahead is tolerated; an activity dated further ahead is refused
# (it would push the contact's last activity into the future).
FUTURE_SLACK = timedelta(days=1)
EARLIEST = datetime(1900, 1, 1)

ITEM_KEYS = frozenset(
    {
        "kind",
        "occurred_at",
        "subject",
        "body",
        "data",
        "name",
        "value",
        "external_id",
        "source",
    }
)
CONTACT_KEYS = frozenset({"contact_id", "email"})


@dataclass
class ActivityIn:
    """One validated activity, not yet tied to a stored contact when given by email."""

    kind: str
    occurred_at: datetime
    contact_id: int | None = None
    email: str | None = None
    subject: str | None = None
    body: str | None = None
    data: dict[str, Any] | None = None
    event_name: str | None = None
    value: float | None = None
    external_id: str | None = None
    source: str | None = None


@dataclass
class IngestResult:
    """Per item, in order: the activity id and whether this call created it."""

    ids: list[int] = field(default_factory=list)
    created: list[bool] = field(default_factory=list)

    @property
    def created_count(self) -> int:
        return sum(self.created)

    @property
    def existing_count(self) -> int:
        return len(self.created) - self.created_count


class IngestFailed(ValueError):
    """Invalid items: {index: {field: message}}; nothing was written."""

    def __init__(self, errors: dict[int, dict[str, str]]):
        super().__init__("; ".join(f"[{i}] {e}" for i, e in errors.items()))
        self.errors = errors


class ActivityInvalid(ValueError):
    """One activity's field errors: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _text(item: Mapping[str, Any], key: str, limit: int, errors: dict[str, str]) -> str | None:
    raw = item.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors[key] = N_("Expected a string.")
        return None
    value = raw.strip()
    if len(value) > limit:
        errors[key] = Message(N_("At most %(n)s characters."), n=limit)
        return None
    return value or None


def parse_occurred_at(raw: Any, now: datetime) -> datetime:
    """An ISO 8601 date-time as naive UTC (no offset means UTC). Raises ValueError(message)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(N_("Expected an ISO 8601 date and time, such as 2024-05-01T09:30:00Z."))
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(
            N_("Expected an ISO 8601 date and time, such as 2024-05-01T09:30:00Z.")
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment < EARLIEST:
        raise ValueError(N_("The date is too far in the past."))
    if moment > now + FUTURE_SLACK:
        raise ValueError(N_("An activity cannot happen in the future."))
    return moment


def clean_activity(
    item: Any, *, now: datetime | None = None, with_contact: bool = True
) -> ActivityIn:
    """Validate one activity object (pure); raises ActivityInvalid naming every bad field.

    `with_contact`: the item names its contact ("contact_id" or "email"); otherwise
    the caller knows it (the URL) and those keys are refused.
    """
    now = now or utcnow()
    errors: dict[str, str] = {}
    if not isinstance(item, Mapping):
        raise ActivityInvalid({"": N_("Each activity must be a JSON object.")})
    allowed = ITEM_KEYS | CONTACT_KEYS if with_contact else ITEM_KEYS
    for key in item:
        if key not in allowed:
            errors[str(key)] = N_("Unknown field.")

    contact_id: int | None = None
    email: str | None = None
    if with_contact:
        raw_id, raw_email = item.get("contact_id"), item.get("email")
        if raw_id is not None and raw_email is not None:
            errors["email"] = N_("Give contact_id or email, not both.")
        elif raw_id is not None:
            if isinstance(raw_id, bool) or not isinstance(raw_id, int) or raw_id < 1:
                errors["contact_id"] = N_("Expected a contact id (a positive whole number).")
            else:
                contact_id = raw_id
        elif raw_email is not None:
            if not isinstance(raw_email, str):
                errors["email"] = N_("Expected a string.")
            else:
                try:
                    email = clean_email(raw_email)
                except FieldError as exc:
                    errors["email"] = exc.message
        else:
            errors["contact_id"] = N_("Say whose activity this is: contact_id or email.")

    kind = item.get("kind")
    if kind is None:
        errors["kind"] = N_("A kind is required.")
    elif kind not in ACTIVITY_KINDS:
        errors["kind"] = Message(N_('Unknown activity kind "%(kind)s".'), kind=str(kind)[:50])

    occurred_at = now
    if item.get("occurred_at") is not None:
        try:
            occurred_at = parse_occurred_at(item["occurred_at"], now)
        except ValueError as exc:
            errors["occurred_at"] = exc.args[0]

    subject = _text(item, "subject", MAX_SUBJECT, errors)
    body = _text(item, "body", MAX_BODY, errors)
    external_id = _text(item, "external_id", MAX_EXTERNAL_ID, errors)
    source = _text(item, "source", MAX_SOURCE, errors)

    data = item.get("data")
    if data is not None:
        if not isinstance(data, dict):
            errors["data"] = N_("Expected a JSON object.")
            data = None
        else:
            try:
                size = len(json.dumps(data, ensure_ascii=False, allow_nan=False).encode())
            except ValueError:
                errors["data"] = N_("Numbers must be finite.")
            else:
                if size > MAX_DATA_BYTES:
                    errors["data"] = Message(
                        N_("At most %(n)s bytes of JSON."), n=f"{MAX_DATA_BYTES:,}"
                    )

    event_name: str | None = None
    value: float | None = None
    if kind == "custom_event":
        event_name = _text(item, "name", MAX_EVENT_NAME, errors)
        if event_name is None and "name" not in errors:
            errors["name"] = N_("A custom event needs a name.")
        raw_value = item.get("value")
        if raw_value is not None:
            if isinstance(raw_value, bool) or not isinstance(raw_value, (int, float)):
                errors["value"] = N_("Expected a number.")
            else:
                try:
                    value = float(raw_value)
                except OverflowError:
                    value = math.inf
                if not math.isfinite(value):
                    errors["value"] = N_("Numbers must be finite.")
                    value = None
    else:
        for key in ("name", "value"):
            if item.get(key) is not None:
                errors[key] = N_("Only a custom_event has a name and a value.")

    if errors:
        raise ActivityInvalid(errors)
    return ActivityIn(
        kind=kind,
        occurred_at=occurred_at,
        contact_id=contact_id,
        email=email,
        subject=subject,
        body=body,
        data=data,
        event_name=event_name,
        value=value,
        external_id=external_id,
        source=source,
    )


def clean_batch(items: Sequence[Any], *, now: datetime | None = None) -> list[ActivityIn]:
    """Validate every item (pure); raises IngestFailed listing every bad one."""
    now = now or utcnow()
    out: list[ActivityIn] = []
    errors: dict[int, dict[str, str]] = {}
    for index, item in enumerate(items):
        try:
            out.append(clean_activity(item, now=now))
        except ActivityInvalid as exc:
            errors[index] = exc.errors
    if errors:
        raise IngestFailed(errors)
    return out


def resolve_contacts(session: Session, items: Sequence[ActivityIn]) -> None:
    """Set each item's contact_id from its id or email; raises IngestFailed for unknown ones."""
    ids = {i.contact_id for i in items if i.contact_id is not None}
    emails = {i.email for i in items if i.email is not None}
    known_ids: set[int] = set()
    by_email: dict[str, int] = {}
    id_list, email_list = sorted(ids), sorted(emails)
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        known_ids.update(session.scalars(select(Contact.id).where(Contact.id.in_(chunk))))
    for start in range(0, len(email_list), 500):
        chunk = email_list[start : start + 500]
        rows = session.execute(select(Contact.email, Contact.id).where(Contact.email.in_(chunk)))
        by_email.update({email: cid for email, cid in rows})
    errors: dict[int, dict[str, str]] = {}
    for index, item in enumerate(items):
        if item.email is not None:
            if item.email in by_email:
                item.contact_id = by_email[item.email]
            else:
                errors[index] = {
                    "email": Message(N_("No contact has the email %(email)s."), email=item.email)
                }
        elif item.contact_id not in known_ids:
            errors[index] = {
                "contact_id": Message(N_("No contact with id %(id)s."), id=item.contact_id)
            }
    if errors:
        raise IngestFailed(errors)


def _existing(session: Session, external_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start : start + 500]
        rows = session.execute(
            select(Activity.external_id, Activity.id).where(Activity.external_id.in_(chunk))
        )
        found.update({ext: aid for ext, aid in rows})
    return found


def _row(item: ActivityIn, user_id: int | None, default_source: str, now: datetime) -> dict:
    return {
        "contact_id": item.contact_id,
        "user_id": user_id,
        "kind": item.kind,
        "subject": item.subject,
        "body": item.body,
        "data": item.data,
        "event_name": item.event_name,
        "value": item.value,
        "source": item.source or default_source,
        "external_id": item.external_id,
        "occurred_at": item.occurred_at,
        "created_at": now,
    }


def _touch_contacts(session: Session, items: Sequence[ActivityIn]) -> None:
    """Move last_activity_at (and last_contacted_at) forward, never back."""
    latest: dict[int, datetime] = {}
    contacted: dict[int, datetime] = {}
    for item in items:
        assert item.contact_id is not None
        cid, when = item.contact_id, item.occurred_at
        if cid not in latest or latest[cid] < when:
            latest[cid] = when
        if item.kind in CONTACTING_KINDS and (cid not in contacted or contacted[cid] < when):
            contacted[cid] = when
    t = Contact.__table__
    conn = session.connection()
    for column, values in (("last_activity_at", latest), ("last_contacted_at", contacted)):
        if not values:
            continue
        col = t.c[column]
        stmt = (
            update(t)
            .where(t.c.id == bindparam("cid"), or_(col.is_(None), col < bindparam("at")))
            .values({column: bindparam("at")})
        )
        # Sorted by id, so concurrent batches lock contacts in the same order.
        conn.execute(stmt, [{"cid": cid, "at": at} for cid, at in sorted(values.items())])


def ingest(
    session: Session,
    items: Sequence[ActivityIn],
    *,
    actor=None,
    via: str = "api",
    source: str | None = None,
) -> IngestResult:
    """Store validated, resolved activities; an external_id already stored (or repeated
    in `items`) answers the existing activity instead of adding one.

    Safe under concurrency: a row inserted meanwhile by someone else trips the unique
    index, the insert is rolled back to its savepoint and the existing ids are read again.
    One audit entry covers the whole call. The caller commits.
    """
    now = utcnow()
    user_id = getattr(actor, "id", None)
    default_source = source or via
    external_ids = sorted({i.external_id for i in items if i.external_id})
    table = Activity.__table__
    known: dict[str, int] = {}
    for _attempt in range(5):
        known = _existing(session, external_ids) if external_ids else {}
        plan: list[tuple[str, Any]] = []  # ("old", id) | ("new", row index) | ("same", item index)
        first: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        fresh: list[ActivityIn] = []
        for index, item in enumerate(items):
            ext = item.external_id
            if ext and ext in known:
                plan.append(("old", known[ext]))
            elif ext and ext in first:
                plan.append(("same", first[ext]))
            else:
                if ext:
                    first[ext] = index
                plan.append(("new", len(rows)))
                rows.append(_row(item, user_id, default_source, now))
                fresh.append(item)
        if not rows:
            new_ids: list[int] = []
            break
        try:
            with session.begin_nested():
                stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
                # Inserted in external_id order, so two batches sharing ids wait for
                # each other instead of deadlocking on the unique index.
                order = sorted(range(len(rows)), key=lambda i: rows[i]["external_id"] or "")
                inserted = session.connection().execute(stmt, [rows[i] for i in order])
                new_ids = [0] * len(rows)
                for i, new_id in zip(order, inserted.scalars(), strict=True):
                    new_ids[i] = new_id
            break
        except IntegrityError:
            # Someone stored one of these external ids meanwhile: read them again.
            if not external_ids or _existing(session, external_ids).keys() == known.keys():
                raise
    else:  # pragma: no cover - five races in a row
        raise RuntimeError("could not store the activities")

    result = IngestResult()
    for kind, ref in plan:
        if kind == "old":
            result.ids.append(ref)
            result.created.append(False)
        elif kind == "new":
            result.ids.append(new_ids[ref])
            result.created.append(True)
        else:
            result.ids.append(result.ids[ref])
            result.created.append(False)
    if fresh:
        _touch_contacts(session, fresh)
        events.emit(
            "activities_changed", sorted({i.contact_id for i in fresh if i.contact_id}), via=via
        )
        created_ids = [i for i, c in zip(result.ids, result.created, strict=True) if c]
        if len(items) == 1:
            item = items[0]
            audit.record(
                "create",
                "activity",
                created_ids[0],
                {
                    "contact_id": item.contact_id,
                    "kind": item.kind,
                    "external_id": item.external_id,
                },
                actor=actor,
                via=via,
            )
        else:
            audit.record(
                "ingest",
                "activity",
                None,
                {
                    "created": len(created_ids),
                    "existing": result.existing_count,
                    "contacts": len({i.contact_id for i in fresh}),
                    "ids": created_ids,
                },
                actor=actor,
                via=via,
            )
    return result


def load_activities(session: Session, ids: Sequence[int]) -> dict[int, Activity]:
    """The activities with these ids, by id."""
    out: dict[int, Activity] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        out.update(
            {a.id: a for a in session.scalars(select(Activity).where(Activity.id.in_(chunk)))}
        )
    return out


def activity_to_dict(activity: Activity) -> dict[str, Any]:
    """The API form of an activity (dates as UTC ISO strings with Z)."""
    return {
        "id": activity.id,
        "contact_id": activity.contact_id,
        "kind": activity.kind,
        "occurred_at": audit.jsonable(activity.occurred_at),
        "subject": activity.subject,
        "body": activity.body,
        "data": activity.data,
        "name": activity.event_name,
        "value": activity.value,
        "source": activity.source,
        "external_id": activity.external_id,
        "user_id": activity.user_id,
        "created_at": audit.jsonable(activity.created_at),
    }
