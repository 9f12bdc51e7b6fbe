"""Demo deals (for `kontor setup`'s demo data and `kontor bench pipeline`): spread over
the stages like a real pipeline, tied to existing contacts, their companies and the
users, written with Core inserts in chunks. Deterministic for a given seed.

They carry no timeline activities: the demo's activity counts stay what was asked for.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

from sqlalchemy import func, insert, select

from app.auth.models import User
from app.contacts.models import Contact
from app.extensions import db
from app.pipeline.models import Deal
from app.pipeline.service import STEP
from app.pipeline.stages import all_stages, ensure_default_stages
from app.timeutil import utcnow

CHUNK = 5000
WEIGHTS = {"open": 10, "won": 5, "lost": 4}
PRODUCTS = (
    "Annual licence",
    "Pilot",
    "Renewal",
    "Expansion",
    "Consulting days",
    "Support plan",
    "Onboarding",
    "Hardware refresh",
    "Training",
    "Integration",
)
REASONS = {
    "won": ("Best price", "Strong champion", "Faster onboarding", None),
    "lost": ("Went with a competitor", "No budget this year", "Project cancelled", None),
}
CURRENCIES = (("EUR", 8), ("USD", 3), ("GBP", 1))


def seed_deals(n: int, *, seed: int = 1, now: datetime | None = None) -> int:
    """Add `n` demo deals (the default stages are created when there is none).

    Returns how many were added. The caller commits.
    """
    if n <= 0:
        return 0
    ensure_default_stages()
    rng = Random(seed)
    now = (now or utcnow()).replace(microsecond=0)
    stages = all_stages()
    weights = [WEIGHTS.get(s.outcome, 1) * (3 if s.position == 0 else 1) for s in stages]
    contacts = db.session.execute(
        select(Contact.id, Contact.company_id, Contact.last_name)
        .where(Contact.archived_at.is_(None))
        .order_by(Contact.id)
        .limit(50_000)
    ).all()
    owners = list(db.session.scalars(select(User.id).where(User.active.is_(True))))
    currencies = [c for c, w in CURRENCIES for _ in range(w)]
    tops = {
        stage_id: top
        for stage_id, top in db.session.execute(
            select(Deal.stage_id, func.max(Deal.position)).group_by(Deal.stage_id)
        )
    }
    next_position = {s.id: (tops.get(s.id) or 0.0) + STEP for s in stages}
    rows = []
    for i in range(n):
        stage = rng.choices(stages, weights)[0]
        contact = rng.choice(contacts) if contacts and rng.random() < 0.9 else None
        entered = now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1440))
        created = entered - timedelta(days=rng.randint(0, 90))
        closed = stage.outcome != "open"
        value = round(10 ** rng.uniform(2.7, 5.3) / 50) * 50
        name = (contact.last_name if contact and contact.last_name else None) or f"Prospect {i + 1}"
        rows.append(
            {
                "title": f"{name} · {rng.choice(PRODUCTS)}",
                "value": value,
                "currency": rng.choice(currencies),
                "stage_id": stage.id,
                "position": next_position[stage.id],
                "contact_id": contact.id if contact else None,
                "company_id": contact.company_id if contact else None,
                "owner_id": rng.choice(owners) if owners and rng.random() < 0.95 else None,
                "expected_close_date": (now + timedelta(days=rng.randint(-30, 180))).date(),
                "closed_reason": rng.choice(REASONS[stage.outcome]) if closed else None,
                "closed_at": entered if closed else None,
                "stage_entered_at": entered,
                "created_at": created,
                "updated_at": entered,
                "version": 1,
            }
        )
        next_position[stage.id] += STEP
        if len(rows) >= CHUNK:
            db.session.execute(insert(Deal), rows)
            rows = []
    if rows:
        db.session.execute(insert(Deal), rows)
    return n
