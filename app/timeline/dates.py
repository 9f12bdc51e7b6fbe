"""Keep a contact's "last activity" and "last contacted" dates true to its timeline."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.contacts.models import Contact
from app.timeline.models import CONTACTING_KINDS, Activity

# Kinds that are Kontor's own bookkeeping, not something that happened with the person.
NOT_ACTIVITY = ("field_change", "import", "merge", "score_threshold")


def refresh_contact_dates(session: Session, contact_ids: Sequence[int]) -> None:
    """Recompute last_activity_at and last_contacted_at from the activities stored now.

    For edits, deletions, merges and undo, where the dates may move back; adding
    activities only moves them forward (app.timeline.ingest does that cheaply).
    """
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return
    t = Contact.__table__
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        last_activity = (
            select(func.max(Activity.occurred_at))
            .where(Activity.contact_id == t.c.id, Activity.kind.not_in(NOT_ACTIVITY))
            .scalar_subquery()
        )
        last_contacted = (
            select(func.max(Activity.occurred_at))
            .where(Activity.contact_id == t.c.id, Activity.kind.in_(CONTACTING_KINDS))
            .scalar_subquery()
        )
        session.execute(
            update(t)
            .where(t.c.id.in_(chunk))
            .values(last_activity_at=last_activity, last_contacted_at=last_contacted)
        )
    session.expire_all()
