"""The timeline query: a contact's or a company's activities, newest first, filtered by
kind, in keyset pages of (occurred_at, id), with what each entry shows loaded in batches
(authors, deals, attendees, contacts) so a page costs the same queries whatever it holds.

A company's timeline holds the activities recorded against the company (deals, and
everything logged by hand, which is stamped with the contact's company at the time)
and the activities of the people who work there now. Both halves walk an index:
activities (company_id, occurred_at) and contacts (company_id) then activities
(contact_id, occurred_at).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, union
from sqlalchemy.orm import Session

from app.auth.models import User
from app.contacts.fields import BY_NAME
from app.contacts.models import Contact
from app.i18n import N_
from app.timeline.models import Activity

PAGE_SIZE = 25


@dataclass(frozen=True)
class KindFilter:
    """One chip of the timeline filter: a key for the URL and the kinds it stands for."""

    key: str
    label: str
    kinds: tuple[str, ...]


FILTERS: tuple[KindFilter, ...] = (
    KindFilter("note", N_("Notes"), ("note",)),
    KindFilter("call", N_("Calls"), ("call",)),
    KindFilter("meeting", N_("Meetings"), ("meeting",)),
    KindFilter("task", N_("Follow-ups"), ("task",)),
    KindFilter(
        "email",
        N_("Emails"),
        (
            "email_sent",
            "email_received",
            "email_opened",
            "email_clicked",
            "email_bounced",
            "complaint",
            "unsubscribe",
        ),
    ),
    KindFilter(
        "deal", N_("Deals"), ("deal_created", "deal_stage_changed", "deal_won", "deal_lost")
    ),
    KindFilter("form_submit", N_("Forms"), ("form_submit",)),
    KindFilter("custom_event", N_("Events"), ("custom_event",)),
    KindFilter("field_change", N_("Changes"), ("field_change",)),
    KindFilter("system", N_("Imports, merges, scores"), ("import", "merge", "score_threshold")),
)
FILTER_KEYS = {f.key: f for f in FILTERS}
# A raw activity kind in the URL (?kinds=email_sent, as the API names them) selects its chip.
_CHIP_OF_KIND = {kind: f.key for f in FILTERS for kind in f.kinds}

KIND_LABELS = {
    "email_sent": N_("Email sent"),
    "email_received": N_("Email received"),
    "email_opened": N_("Email opened"),
    "email_clicked": N_("Email link clicked"),
    "email_bounced": N_("Email bounced"),
    "complaint": N_("Spam complaint"),
    "unsubscribe": N_("Unsubscribed"),
    "call": N_("Call"),
    "meeting": N_("Meeting"),
    "note": N_("Note"),
    "task": N_("Follow-up"),
    "form_submit": N_("Form submitted"),
    "deal_created": N_("Deal created"),
    "deal_stage_changed": N_("Deal stage changed"),
    "deal_won": N_("Deal won"),
    "deal_lost": N_("Deal lost"),
    "field_change": N_("Changed"),
    "merge": N_("Merged"),
    "import": N_("Imported"),
    "score_threshold": N_("Lead score threshold"),
    "custom_event": N_("Event"),
}
OTHER_LABELS = {
    "tags": N_("Tags"),
    "archived": N_("Archived"),
    "list": N_("List"),
    "lists": N_("Lists"),
}


def parse_kinds(values: Iterable[str]) -> list[str]:
    """The filter keys asked for (?kinds=call,note or kinds=call&kinds=note), in chip
    order; unknown words are left out."""
    wanted: set[str] = set()
    for raw in values:
        for word in str(raw).split(","):
            word = word.strip().lower()
            key = word if word in FILTER_KEYS else _CHIP_OF_KIND.get(word)
            if key:
                wanted.add(key)
    return [f.key for f in FILTERS if f.key in wanted]


def kinds_of(keys: Sequence[str]) -> list[str]:
    """The activity kinds the filter keys stand for (empty: every kind)."""
    return [kind for key in keys for kind in FILTER_KEYS[key].kinds]


def encode_cursor(occurred_at: datetime, activity_id: int) -> str:
    """An opaque cursor after this (occurred_at, id)."""
    raw = f"{occurred_at.isoformat()}|{activity_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (occurred_at, id) of a cursor, or None when it is missing or not one of ours."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        return datetime.fromisoformat(when), int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


@dataclass
class Page:
    activities: list[Activity]
    next_cursor: str | None


def _narrowed(stmt: Select, kinds: Sequence[str], after: tuple[datetime, int] | None) -> Select:
    """The kind filter, the keyset condition after the cursor, newest first."""
    if kinds:
        stmt = stmt.where(Activity.kind.in_(list(kinds)))
    if after is not None:
        when, last_id = after
        # Written out (not a row value) so both databases range-scan occurred_at.
        stmt = stmt.where(
            Activity.occurred_at <= when,
            or_(
                Activity.occurred_at < when,
                and_(Activity.occurred_at == when, Activity.id < last_id),
            ),
        )
    return stmt.order_by(Activity.occurred_at.desc(), Activity.id.desc())


def _page_of(rows: list[Activity], limit: int) -> Page:
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].occurred_at, rows[-1].id)
    return Page(rows, next_cursor)


def contact_page(
    session: Session,
    contact_id: int,
    kinds: Sequence[str] = (),
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of a contact's activities of these kinds (all when empty), newest first."""
    stmt = _narrowed(
        select(Activity).where(Activity.contact_id == contact_id), kinds, decode_cursor(cursor)
    )
    return _page_of(list(session.scalars(stmt.limit(limit + 1))), limit)


def company_page(
    session: Session,
    company_id: int,
    kinds: Sequence[str] = (),
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of a company's timeline (see the module docstring), newest first.

    Each half takes its own first page (an OR of the two would scan the table on
    PostgreSQL); the page is the newest of their union.
    """
    after = decode_cursor(cursor)
    own = _narrowed(select(Activity.id).where(Activity.company_id == company_id), kinds, after)
    people = _narrowed(
        select(Activity.id)
        .join(Contact, Contact.id == Activity.contact_id)
        .where(Contact.company_id == company_id),
        kinds,
        after,
    )
    halves = [q.limit(limit + 1).subquery() for q in (own, people)]
    ids = union(*(select(h.c.id) for h in halves)).subquery()
    stmt = (
        select(Activity)
        .where(Activity.id.in_(select(ids.c.id)))
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(limit + 1)
    )
    return _page_of(list(session.scalars(stmt)), limit)


@dataclass
class Entry:
    """One activity as the timeline shows it."""

    activity: Activity
    who: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    deal: tuple[int, str] | None = None
    attendees: list[tuple[int, str]] = field(default_factory=list)
    contact: tuple[int, str] | None = None
    can_edit: bool = False
    can_delete: bool = False


def contact_label(first: str | None, last: str | None, email: str) -> str:
    name = " ".join(p for p in (first, last) if p)
    return name or email


def contact_labels(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Names (or emails) of these contacts, in one query per 500."""
    unique = sorted({int(i) for i in ids if i})
    out: dict[int, str] = {}
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        rows = session.execute(
            select(Contact.id, Contact.first_name, Contact.last_name, Contact.email).where(
                Contact.id.in_(chunk)
            )
        )
        out.update({cid: contact_label(f, la, e) for cid, f, la, e in rows})
    return out


def attendee_ids_of(activity: Activity) -> list[int]:
    """The contact ids a meeting lists as attendees (ignoring anything malformed)."""
    raw = (activity.data or {}).get("attendees") or []
    if not isinstance(raw, list):
        return []
    return [i for i in raw if isinstance(i, int) and not isinstance(i, bool)]


def _changes(data: Mapping[str, Any] | None, custom_labels: Mapping[str, str]) -> list[dict]:
    out = []
    changes = (data or {}).get("changes") or {}
    if not isinstance(changes, Mapping):
        return out
    for name, change in changes.items():
        if name in BY_NAME:
            label = BY_NAME[name].label
        else:
            label = custom_labels.get(name) or OTHER_LABELS.get(name, name)
        entry: dict[str, Any] = {"field": name, "label": label}
        if isinstance(change, Mapping):
            entry["added"] = change.get("added") or []
            entry["removed"] = change.get("removed") or []
        elif isinstance(change, (list, tuple)) and len(change) == 2:
            entry["old"], entry["new"] = change
        else:
            entry["old"], entry["new"] = None, change
        out.append(entry)
    return out


def load_entries(
    session: Session,
    activities: Sequence[Activity],
    *,
    custom_labels: Mapping[str, str] | None = None,
    with_contacts: bool = False,
) -> list[Entry]:
    """Entries for these activities with authors, deals, attendees (and, for a company
    timeline, whose activity it is) loaded in one query each."""
    custom_labels = custom_labels or {}
    user_ids = sorted({a.user_id for a in activities if a.user_id})
    users: dict[int, str] = {}
    if user_ids:
        rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(user_ids)))
        users = {uid: name or email for uid, name, email in rows}
    deal_ids = sorted({a.deal_id for a in activities if a.deal_id})
    deals: dict[int, str] = {}
    if deal_ids:
        from app.pipeline.models import Deal  # app.pipeline imports the contact pages

        deals = dict(
            session.execute(select(Deal.id, Deal.title).where(Deal.id.in_(deal_ids))).all()
        )
    wanted: set[int] = set()
    for a in activities:
        if a.kind == "meeting":
            wanted.update(attendee_ids_of(a))
        if with_contacts and a.contact_id:
            wanted.add(a.contact_id)
    labels = contact_labels(session, wanted) if wanted else {}
    entries = []
    for a in activities:
        entry = Entry(activity=a, who=users.get(a.user_id) if a.user_id else None)
        if a.kind in ("field_change", "import"):
            entry.changes = _changes(a.data, custom_labels)
        if a.deal_id and a.deal_id in deals:
            entry.deal = (a.deal_id, deals[a.deal_id])
        if a.kind == "meeting":
            entry.attendees = [(i, labels[i]) for i in attendee_ids_of(a) if i in labels]
        if with_contacts and a.contact_id in labels:
            entry.contact = (a.contact_id, labels[a.contact_id])
        entries.append(entry)
    return entries


def data_items(activity: Activity, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """An activity's extra data as (key, text) pairs to show (at most 12, short values)."""
    data = activity.data or {}
    if not isinstance(data, Mapping):
        return []
    skipped = set(skip)
    out = []
    for key, value in data.items():
        if key in skipped or value is None or value == "" or isinstance(value, (dict, list)):
            continue
        text = str(value)
        out.append((str(key), text if len(text) <= 200 else text[:199] + "…"))
        if len(out) == 12:
            break
    return out
