"""Log, edit, delete and complete activities by hand (notes, calls, meetings, follow-ups).

The one code path behind the timeline pages and the activity API: each write keeps the
contact's "last activity" and "last contacted" dates true, tells the contact event
listeners (scores), and leaves an audit entry, in the caller's transaction (the caller
commits). Who may change what is decided here too (`can_edit`, `can_delete`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from app import audit
from app.contacts import events
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_, Message
from app.timeline.dates import refresh_contact_dates
from app.timeline.forms import LOGGABLE, PROTECTED, FormInvalid, LogValues
from app.timeline.models import Activity
from app.timeline.query import attendee_ids_of, contact_labels
from app.timeutil import utcnow


def can_edit(activity: Activity, user: Any) -> bool:
    """Whether `user` may edit it: a note, call, meeting or follow-up, by its author or
    an admin (viewers never)."""
    if user is None or not user.can("write") or activity.kind not in LOGGABLE:
        return False
    return user.can("admin") or (activity.user_id is not None and activity.user_id == user.id)


def can_delete(activity: Activity, user: Any) -> bool:
    """Whether `user` may delete it: anything but Kontor's own history (field changes,
    merges, imports, deal events, score thresholds), by its author or an admin."""
    if user is None or not user.can("write") or activity.kind in PROTECTED:
        return False
    return user.can("admin") or (activity.user_id is not None and activity.user_id == user.id)


def resolve_attendees(session: Session, values: LogValues, contact_id: int) -> list[int]:
    """The attendee contact ids of a meeting form (chosen ids and typed emails), in order.

    Raises FormInvalid when an id or an email is not a contact's. The contact whose
    meeting it is is not listed among its own attendees.
    """
    errors: dict[str, str] = {}
    ids = list(values.attendee_ids)
    if ids:
        known = set(session.scalars(select(Contact.id).where(Contact.id.in_(ids))))
        if set(ids) - known:
            errors["attendees"] = N_("Some attendees are no longer contacts; choose them again.")
    if values.attendee_emails:
        rows = dict(
            session.execute(
                select(Contact.email, Contact.id).where(Contact.email.in_(values.attendee_emails))
            ).all()
        )
        missing = [e for e in values.attendee_emails if e not in rows]
        if missing:
            errors["attendee_emails"] = Message(
                N_("No contact has the email %(emails)s."), emails=", ".join(missing)[:300]
            )
        ids.extend(rows[e] for e in values.attendee_emails if e in rows)
    if errors:
        raise FormInvalid(errors)
    out: list[int] = []
    for i in ids:
        if i != contact_id and i not in out:
            out.append(i)
    return out


def _fields(values: LogValues, attendees: list[int]) -> dict[str, Any]:
    data = values.data
    if values.kind == "meeting":
        data = {"attendees": attendees}
    return {
        "subject": values.subject,
        "body": values.body,
        "data": data,
        "due_at": values.due_at,
    }


def _touched(contact_id: int | None, via: str) -> None:
    if contact_id is None:
        return
    refresh_contact_dates(db.session, [contact_id])
    events.emit("activities_changed", [contact_id], via=via)


def log_activity(contact: Contact, values: LogValues, *, actor: Any, via: str = "web") -> Activity:
    """Add a note, call, meeting or follow-up to a contact's timeline; returns it.

    Raises FormInvalid for attendees that are not contacts. The activity is stamped
    with the contact's company, so it stays on that company's timeline.
    """
    attendees = (
        resolve_attendees(db.session, values, contact.id) if values.kind == "meeting" else []
    )
    now = utcnow()
    activity = Activity(
        contact_id=contact.id,
        company_id=contact.company_id,
        user_id=getattr(actor, "id", None),
        kind=values.kind,
        occurred_at=values.occurred_at or now,
        source=via,
        created_at=now,
        **_fields(values, attendees),
    )
    db.session.add(activity)
    db.session.flush()
    activity_id, contact_id = activity.id, contact.id
    audit.record(
        "create",
        "activity",
        activity_id,
        {"contact_id": contact_id, "kind": values.kind, **_audit_fields(activity)},
        actor=actor,
        via=via,
    )
    _touched(contact_id, via)
    return db.session.get(Activity, activity_id)


def _audit_fields(activity: Activity) -> dict[str, Any]:
    return {
        "occurred_at": activity.occurred_at,
        "subject": activity.subject,
        "body": activity.body,
        "data": activity.data,
        "due_at": activity.due_at,
    }


def _same_moment(typed: datetime, stored: datetime | None) -> bool:
    """Whether a date typed in a form (to the minute, or second) is the stored one."""
    if stored is None:
        return False
    if typed.second == 0 and typed.microsecond == 0:
        return typed == stored.replace(second=0, microsecond=0)
    return typed == stored.replace(microsecond=0)


def edit_activity(
    activity: Activity, values: LogValues, *, actor: Any, via: str = "web"
) -> dict[str, list[Any]]:
    """Apply an edit form; returns {field: [old, new]} of what changed (nothing: {}).

    A moved date can move the contact's "last activity"/"last contacted" back; they
    are recomputed. Raises FormInvalid for attendees that are not contacts.
    """
    if values.kind != activity.kind:
        raise FormInvalid({"kind": N_("An activity keeps its kind.")})
    attendees = (
        resolve_attendees(db.session, values, activity.contact_id or 0)
        if values.kind == "meeting"
        else []
    )
    new = _fields(values, attendees)
    if new["data"] is not None and isinstance(activity.data, dict):
        # Keep what an integration stored beside the form's own keys.
        new["data"] = {**activity.data, **new["data"]}
    if values.occurred_at is not None and not _same_moment(
        values.occurred_at, activity.occurred_at
    ):
        new["occurred_at"] = values.occurred_at
    changes: dict[str, list[Any]] = {}
    for name, value in new.items():
        old = getattr(activity, name)
        if old != value:
            changes[name] = [old, value]
            setattr(activity, name, value)
    if not changes:
        return changes
    activity.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "update",
        "activity",
        activity.id,
        {"contact_id": activity.contact_id, "kind": activity.kind, **changes},
        actor=actor,
        via=via,
    )
    _touched(activity.contact_id, via)
    return changes


def delete_activity(activity: Activity, *, actor: Any, via: str = "web") -> None:
    """Delete an activity; the audit entry keeps what it said."""
    contact_id = activity.contact_id
    audit.record(
        "delete",
        "activity",
        activity.id,
        {"contact_id": contact_id, "kind": activity.kind, **_audit_fields(activity)},
        actor=actor,
        via=via,
    )
    db.session.delete(activity)
    db.session.flush()
    _touched(contact_id, via)


def set_done(activity: Activity, done: bool, *, actor: Any, via: str = "web") -> bool:
    """Mark a follow-up done (or open again); False when it already was."""
    if activity.kind != "task":
        raise FormInvalid({"done": N_("Only a follow-up can be marked done.")})
    if bool(activity.completed_at) == done:
        return False
    old = activity.completed_at
    activity.completed_at = utcnow() if done else None
    activity.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "complete" if done else "reopen",
        "activity",
        activity.id,
        {"contact_id": activity.contact_id, "completed_at": [old, activity.completed_at]},
        actor=actor,
        via=via,
    )
    if activity.contact_id:
        events.emit("activities_changed", [activity.contact_id], via=via)
    return True


# ---------------------------------------------------------------- my follow-ups


@dataclass
class FollowUp:
    activity: Activity
    contact_id: int | None
    contact: str | None
    group: str  # overdue, today, upcoming, done


def group_of(task: Activity, now: datetime) -> str:
    """Where a follow-up is listed: done, overdue (due before today), today, upcoming."""
    if task.completed_at is not None:
        return "done"
    today = datetime(now.year, now.month, now.day)
    if task.due_at is not None and task.due_at < today:
        return "overdue"
    if task.due_at is not None and task.due_at < today + timedelta(days=1):
        return "today"
    return "upcoming"


@dataclass
class FollowUps:
    groups: dict[str, list[FollowUp]] = field(default_factory=dict)
    open_count: int = 0
    done_count: int = 0
    more_done: bool = False


GROUPS = ("overdue", "today", "upcoming", "done")
DONE_SHOWN = 100


def follow_ups(
    session: Session, user_id: int, *, include_done: bool = False, now: datetime | None = None
) -> FollowUps:
    """A user's follow-ups: open ones by due date (overdue, today, upcoming), and with
    `include_done` the most recently done. Walks ix_activities_user_kind_open_due."""
    now = now or utcnow()
    open_rows = list(
        session.scalars(
            select(Activity)
            .where(
                Activity.user_id == user_id,
                Activity.kind == "task",
                Activity.completed_at.is_(None),
            )
            .order_by(case((Activity.due_at.is_(None), 1), else_=0), Activity.due_at, Activity.id)
        )
    )
    done_rows: list[Activity] = []
    more_done = False
    if include_done:
        done_rows = list(
            session.scalars(
                select(Activity)
                .where(
                    Activity.user_id == user_id,
                    Activity.kind == "task",
                    Activity.completed_at.is_not(None),
                )
                .order_by(Activity.completed_at.desc(), Activity.id.desc())
                .limit(DONE_SHOWN + 1)
            )
        )
        more_done = len(done_rows) > DONE_SHOWN
        done_rows = done_rows[:DONE_SHOWN]
    labels = contact_labels(session, [a.contact_id for a in (*open_rows, *done_rows)])
    out = FollowUps(groups={g: [] for g in GROUPS}, more_done=more_done)
    for a in (*open_rows, *done_rows):
        group = group_of(a, now)
        out.groups[group].append(FollowUp(a, a.contact_id, labels.get(a.contact_id), group))
    out.open_count = len(open_rows)
    out.done_count = len(done_rows)
    return out


def attendee_labels(session: Session, activity: Activity) -> list[tuple[int, str]]:
    """A meeting's attendees as (id, name) for its edit form."""
    ids = attendee_ids_of(activity)
    labels = contact_labels(session, ids)
    return [(i, labels[i]) for i in ids if i in labels]


def labels_for(session: Session, ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, name) for contact ids, in the given order (unknown ids left out)."""
    labels = contact_labels(session, ids)
    return [(i, labels[i]) for i in ids if i in labels]
