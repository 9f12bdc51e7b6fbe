"""Deals: validation, create, edit, delete and moves on the board.

The one code path behind the board, the deal pages and the API (no Flask import).
Every write leaves an audit entry in the caller's transaction; the caller commits.

Positions: a column is ordered by (position, id). A move puts the deal halfway between
its new neighbours (or STEP before the first / after the last); when two neighbours
are too close for a float to fit between them, the column is renumbered (STEP, 2*STEP,
...) in one UPDATE first. Moving into a won or lost stage sets `closed_at`; moving out
of one clears `closed_at` and `closed_reason`. A new deal, a stage change, a win and a
loss each add one activity to the contact's timeline (deal_created, deal_stage_changed,
deal_won, deal_lost; the subject says "Lead → Proposal", `data` holds the stage
names {"from", "to"}, their ids and the deal's title at the time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import list_currencies
from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.orm.attributes import set_committed_value

from app import audit
from app.auth.models import User
from app.companies.models import Company
from app.contacts import events
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_, Message
from app.pipeline.models import Deal, Stage
from app.timeline.models import Activity
from app.timeutil import utcnow

STEP = 1024.0
RELATIVE_GAP = 1e-9  # neighbours closer than this (relative) trigger a renumbering
MAX_TITLE = 300
MAX_REASON = 2000
MAX_VALUE = Decimal("999999999999.99")
CURRENCIES = frozenset(list_currencies())
DEFAULT_CURRENCY = "EUR"
OUTCOMES = ("open", "won", "lost")

# What a form or the API may send (the API also takes the *_id spellings).
KEYS = (
    "title",
    "value",
    "currency",
    "stage",
    "contact",
    "company",
    "owner",
    "expected_close_date",
    "closed_reason",
)
ALIASES = {
    "stage_id": "stage",
    "contact_id": "contact",
    "company_id": "company",
    "owner_id": "owner",
}
LABELS = {
    "title": N_("Title"),
    "value": N_("Value"),
    "currency": N_("Currency"),
    "stage": N_("Stage"),
    "contact": N_("Contact"),
    "company": N_("Company"),
    "owner": N_("Owner"),
    "expected_close_date": N_("Expected close date"),
    "closed_reason": N_("Won/lost reason"),
}
COLUMNS = {
    "title": "title",
    "value": "value",
    "currency": "currency",
    "stage": "stage_id",
    "contact": "contact_id",
    "company": "company_id",
    "owner": "owner_id",
    "expected_close_date": "expected_close_date",
    "closed_reason": "closed_reason",
}

KEY_OF = {column: key for key, column in COLUMNS.items()}


class DealConflict(Exception):
    """Someone else saved the deal since its `version` was read; nothing was saved."""

    def __init__(self, deal: Deal):
        super().__init__("the deal was changed by someone else")
        self.deal = deal


# ------------------------------------------------------------------ validation


def parse_amount(raw: Any) -> Decimal | None:
    """An amount from a form or JSON ("1 200,50", "1,200.50", 1200.5); None when empty.

    Raises ValueError with a user message (an N_ string or a Message).
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(N_("Enter an amount such as 1200.50."))
    if isinstance(raw, (int, float, Decimal)):
        text = str(raw)
    elif isinstance(raw, str):
        text = re.sub(r"[\s\u00a0\u202f']", "", raw)
        if not text:
            return None
        if "," in text and "." in text:  # the last one is the decimal separator
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            text = text.replace(",", ".")
    else:
        raise ValueError(N_("Enter an amount such as 1200.50."))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(N_("Enter an amount such as 1200.50.")) from None
    if not amount.is_finite():
        raise ValueError(N_("Enter an amount such as 1200.50."))
    if amount < 0:
        raise ValueError(N_("The value cannot be negative."))
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount > MAX_VALUE:
        raise ValueError(N_("The value is too large."))
    return amount


def parse_day(raw: Any) -> date | None:
    """A date from "YYYY-MM-DD" (or a date); None when empty. Raises ValueError."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise ValueError(N_("Enter a date as YYYY-MM-DD."))


def _as_id(raw: Any) -> int | None:
    """An id given as an int or a string of digits, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) < 12:
        return int(raw.strip())
    return None


def find_stage(raw: Any) -> Stage | None:
    """A stage by id (int or digits) or by name (case-insensitive)."""
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    stage_id = _as_id(raw)
    if stage_id is not None:
        stage = db.session.get(Stage, stage_id)
        if stage is not None or isinstance(raw, int):
            return stage
    if not isinstance(raw, str):
        return None
    return db.session.scalar(
        select(Stage).where(func.lower(Stage.name) == raw.strip().lower()).limit(1)
    )


def first_stage() -> Stage | None:
    return db.session.scalar(select(Stage).order_by(Stage.position, Stage.id).limit(1))


def _contact_id(raw: Any) -> int | None:
    contact_id = _as_id(raw)
    if contact_id is not None:
        return contact_id if db.session.get(Contact, contact_id) is not None else None
    if isinstance(raw, str) and "@" in raw:
        email = raw.strip().lower()
        if email.endswith(">") and "<" in email:  # "Name <email>" from the picker
            email = email[email.rfind("<") + 1 : -1].strip()
        return db.session.scalar(select(Contact.id).where(Contact.email == email).limit(1))
    return None


def _company_id(raw: Any) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if db.session.get(Company, raw) is not None else None
    if isinstance(raw, str) and raw.strip():
        return db.session.scalar(
            select(Company.id)
            .where(func.lower(Company.name) == raw.strip().lower())
            .order_by(Company.id)
            .limit(1)
        )
    return None


def _owner_id(raw: Any) -> int | None:
    user_id = _as_id(raw)
    if user_id is not None:
        return user_id if db.session.get(User, user_id) is not None else None
    if isinstance(raw, str) and "@" in raw:
        return db.session.scalar(select(User.id).where(User.email == raw.strip().lower()).limit(1))
    return None


def normalise_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """The data with API spellings (stage_id, contact_id, ...) turned into form keys."""
    return {ALIASES.get(k, k): v for k, v in data.items()}


def clean_deal(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate deal fields; return values by column (only the keys given when `partial`).

    References are resolved: stage by id or name, contact by id or email, company by id
    or name, owner by id or email. Raises ValidationFailed naming every bad field.
    """
    data = normalise_keys(data)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "title" in data or not partial:
        title = data.get("title")
        title = title.strip() if isinstance(title, str) else ""
        if not title:
            errors["title"] = N_("A deal needs a title.")
        elif len(title) > MAX_TITLE:
            errors["title"] = Message(N_("Too long (at most %(n)s characters)."), n=MAX_TITLE)
        else:
            values["title"] = title
    if "value" in data:
        try:
            values["value"] = parse_amount(data["value"])
        except ValueError as exc:
            errors["value"] = exc.args[0]
    if "currency" in data or not partial:
        raw = data.get("currency")
        code = raw.strip().upper() if isinstance(raw, str) else ""
        if not code and not partial and raw in (None, ""):
            code = DEFAULT_CURRENCY
        if code not in CURRENCIES:
            errors["currency"] = N_("Enter an ISO 4217 currency code such as EUR or USD.")
        else:
            values["currency"] = code
    if "stage" in data or not partial:
        raw = data.get("stage")
        stage = find_stage(raw) if raw not in (None, "") else (None if partial else first_stage())
        if stage is None:
            errors["stage"] = N_("No such stage.")
        else:
            values["stage_id"] = stage.id
    for key, resolve, message in (
        ("contact", _contact_id, N_("No such contact.")),
        ("company", _company_id, N_("No such company.")),
        ("owner", _owner_id, N_("No such user.")),
    ):
        if key not in data:
            continue
        raw = data[key]
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            values[COLUMNS[key]] = None
            continue
        found = resolve(raw)
        if found is None:
            errors[key] = message
        else:
            values[COLUMNS[key]] = found
    if "expected_close_date" in data:
        try:
            values["expected_close_date"] = parse_day(data["expected_close_date"])
        except ValueError as exc:
            errors["expected_close_date"] = exc.args[0]
    if "closed_reason" in data:
        raw = data["closed_reason"]
        if raw is not None and not isinstance(raw, str):
            errors["closed_reason"] = N_("Enter some text.")
        else:
            reason = (raw or "").strip()
            if len(reason) > MAX_REASON:
                errors["closed_reason"] = Message(
                    N_("Too long (at most %(n)s characters)."), n=MAX_REASON
                )
            else:
                values["closed_reason"] = reason or None
    if errors:
        raise ValidationFailed(errors)
    return values


# ------------------------------------------------------------------ timeline


def _stage_names(*ids: int | None) -> dict[int, Stage]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {s.id: s for s in db.session.scalars(select(Stage).where(Stage.id.in_(wanted)))}


def _activity(
    deal: Deal, kind: str, subject: str, data: dict[str, Any], *, actor, via: str, now: datetime
) -> None:
    """Put one deal activity on the deal's contact's timeline (none without a contact)."""
    if deal.contact_id is None:
        return
    db.session.add(
        Activity(
            contact_id=deal.contact_id,
            company_id=deal.company_id,
            deal_id=deal.id,
            user_id=getattr(actor, "id", None),
            kind=kind,
            subject=subject[:500],
            data=data,
            source=via,
            occurred_at=now,
            created_at=now,
        )
    )
    t = Contact.__table__
    db.session.execute(
        update(t)
        .where(
            t.c.id == deal.contact_id,
            or_(t.c.last_activity_at.is_(None), t.c.last_activity_at < now),
        )
        .values(last_activity_at=now)
    )
    events.emit("activities_changed", [deal.contact_id], via=via)


def _change_kind(old: Stage | None, new: Stage) -> str:
    if new.outcome == "won" and (old is None or old.outcome != "won"):
        return "deal_won"
    if new.outcome == "lost" and (old is None or old.outcome != "lost"):
        return "deal_lost"
    return "deal_stage_changed"


def _stage_change_activity(
    deal: Deal, old: Stage | None, new: Stage, *, actor, via: str, now: datetime
) -> None:
    old_name = old.name if old is not None else None
    _activity(
        deal,
        _change_kind(old, new),
        f"{old_name} → {new.name}" if old_name else new.name,
        {
            "from": old_name,
            "to": new.name,
            "from_id": getattr(old, "id", None),
            "to_id": new.id,
            "title": deal.title,
        },
        actor=actor,
        via=via,
        now=now,
    )


def _closing_values(old: Stage | None, new: Stage, now: datetime) -> dict[str, Any]:
    """closed_at/closed_reason when a deal goes from `old` to `new` (nothing if same kind)."""
    if new.outcome == "open":
        return {"closed_at": None, "closed_reason": None}
    if old is None or old.outcome != new.outcome:
        return {"closed_at": now}
    return {}


# ------------------------------------------------------------------ positions


def _neighbour_rows(stage_id: int, deal_id: int | None):
    stmt = select(Deal.position, Deal.id).where(Deal.stage_id == stage_id)
    if deal_id is not None:
        stmt = stmt.where(Deal.id != deal_id)
    return stmt


def _bounds(
    stage_id: int,
    deal_id: int | None,
    before_id: int | None,
    after_id: int | None,
    index: int | None,
) -> tuple[float | None, float | None]:
    """The positions the deal goes between (None: no neighbour on that side).

    `before_id` is the deal that ends up just above it, `after_id` the one just below
    (either may be stale or in another column: then it is ignored); `index` is a
    0-based place in the column; none of them: the top.
    """
    rows = _neighbour_rows(stage_id, deal_id)
    for anchor_id, above in ((before_id, True), (after_id, False)):
        if anchor_id is None or anchor_id == deal_id:
            continue
        anchor = db.session.execute(
            select(Deal.position, Deal.id).where(Deal.id == anchor_id, Deal.stage_id == stage_id)
        ).first()
        if anchor is None:
            continue
        key = tuple_(Deal.position, Deal.id)
        if above:
            nxt = db.session.execute(
                rows.where(key > tuple_(*anchor)).order_by(Deal.position, Deal.id).limit(1)
            ).first()
            return anchor.position, (nxt.position if nxt else None)
        prev = db.session.execute(
            rows.where(key < tuple_(*anchor))
            .order_by(Deal.position.desc(), Deal.id.desc())
            .limit(1)
        ).first()
        return (prev.position if prev else None), anchor.position
    if index is None or index <= 0:
        first = db.session.execute(rows.order_by(Deal.position, Deal.id).limit(1)).first()
        return None, (first.position if first else None)
    pair = db.session.execute(
        rows.order_by(Deal.position, Deal.id).offset(index - 1).limit(2)
    ).all()
    if not pair:  # past the end: the bottom
        last = db.session.execute(
            rows.order_by(Deal.position.desc(), Deal.id.desc()).limit(1)
        ).first()
        return (last.position if last else None), None
    return pair[0].position, (pair[1].position if len(pair) > 1 else None)


def _between(lo: float | None, hi: float | None) -> float | None:
    """A position strictly between lo and hi, or None when they are too close."""
    if lo is None and hi is None:
        return STEP
    if lo is None:
        return hi - STEP
    if hi is None:
        return lo + STEP
    if hi - lo <= max(abs(lo), abs(hi), 1.0) * RELATIVE_GAP:
        return None
    middle = (lo + hi) / 2
    return middle if lo < middle < hi else None


def renumber(stage_id: int) -> None:
    """Spread a column's positions out again (STEP, 2*STEP, ... in order) in one UPDATE."""
    ranked = (
        select(
            Deal.id.label("deal_id"),
            func.row_number().over(order_by=(Deal.position, Deal.id)).label("rank"),
        )
        .where(Deal.stage_id == stage_id)
        .subquery()
    )
    db.session.execute(
        update(Deal)
        .where(Deal.id == ranked.c.deal_id)
        .values(position=ranked.c.rank * STEP)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()


def place(
    stage_id: int,
    deal_id: int | None = None,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    index: int | None = None,
) -> float:
    """The position for a deal going into a column (renumbering it first if needed)."""
    position = _between(*_bounds(stage_id, deal_id, before_id, after_id, index))
    if position is None:
        renumber(stage_id)
        position = _between(*_bounds(stage_id, deal_id, before_id, after_id, index))
        assert position is not None
    return position


# ------------------------------------------------------------------ writes


def _shown(column: str, value: Any, stages: dict[int, Stage] | None = None) -> Any:
    """A value as the audit trail shows it (names, not ids)."""
    if value is None:
        return None
    if column == "stage_id":
        stage = (stages or {}).get(value) or db.session.get(Stage, value)
        return stage.name if stage else value
    if column == "owner_id":
        user = db.session.get(User, value)
        return user.email if user else value
    if column == "contact_id":
        contact = db.session.get(Contact, value)
        return contact.email if contact else value
    if column == "company_id":
        company = db.session.get(Company, value)
        return company.name if company else value
    return value


def create_deal(data: Mapping[str, Any], *, actor=None, via: str = "web") -> Deal:
    """Create a deal at the top of its stage. Raises ValidationFailed.

    Without a company it takes the contact's; without an owner, the actor.
    """
    values = clean_deal(data, partial=False)
    stage = db.session.get(Stage, values["stage_id"])
    assert stage is not None
    if not values.get("company_id") and values.get("contact_id"):
        values["company_id"] = db.session.scalar(
            select(Contact.company_id).where(Contact.id == values["contact_id"])
        )
    if "owner_id" not in values and actor is not None:
        values["owner_id"] = actor.id
    now = utcnow()
    if stage.outcome == "open":
        if values.get("closed_reason"):
            raise ValidationFailed(
                {"closed_reason": N_("Only a won or lost deal has a won/lost reason.")}
            )
        values["closed_reason"] = None
    else:
        values["closed_at"] = now
    deal = Deal(
        **values,
        position=place(stage.id),
        stage_entered_at=now,
        created_at=now,
        updated_at=now,
        version=1,
    )
    db.session.add(deal)
    db.session.flush()
    audit.record(
        "create",
        "deal",
        deal.id,
        {
            KEY_OF.get(k, k): _shown(k, v)
            for k, v in values.items()
            if v not in (None, "") and k != "closed_at"
        },
        actor=actor,
        via=via,
    )
    _activity(
        deal,
        "deal_created",
        stage.name,
        {
            "from": None,
            "to": stage.name,
            "to_id": stage.id,
            "title": deal.title,
            "value": None if deal.value is None else str(deal.value),
            "currency": deal.currency,
        },
        actor=actor,
        via=via,
        now=now,
    )
    return deal


def _check_version(deal: Deal, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != deal.version:
        raise DealConflict(deal)


def _write(deal: Deal, values: dict[str, Any]) -> None:
    """UPDATE the deal with its version checked in the statement; bump the version."""
    version = deal.version
    values = {**values, "version": version + 1, "updated_at": utcnow()}
    result = db.session.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.version == version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(deal)
        raise DealConflict(deal)
    for key, value in values.items():  # what was written, without reading it back
        set_committed_value(deal, key, value)


def update_deal(
    deal: Deal,
    data: Mapping[str, Any],
    *,
    expected_version: int | None = None,
    actor=None,
    via: str = "web",
) -> dict[str, list[Any]]:
    """Apply the given fields; return {field: [old, new]} of real changes.

    A new stage puts the deal at the top of that column (with the timeline activity
    and the won/lost bookkeeping of a move). Raises ValidationFailed or DealConflict.
    """
    _check_version(deal, expected_version)
    values = clean_deal(data, partial=True)
    now = utcnow()
    old_stage_id = deal.stage_id
    new_stage_id = values.get("stage_id", old_stage_id)
    stages = _stage_names(old_stage_id, new_stage_id)
    new_stage = stages[new_stage_id]
    moving = new_stage_id != old_stage_id
    if new_stage.outcome == "open" and values.get("closed_reason"):
        raise ValidationFailed(
            {"closed_reason": N_("Only a won or lost deal has a won/lost reason.")}
        )
    changes: dict[str, list[Any]] = {}
    for column, new in values.items():
        old = getattr(deal, column)
        if column == "value" and old is not None:
            old = Decimal(str(old)).quantize(Decimal("0.01"))
        if old != new:
            changes[KEY_OF[column]] = [_shown(column, old, stages), _shown(column, new, stages)]
    if not changes:
        return changes
    if moving:
        old_stage = stages.get(old_stage_id)
        closing = _closing_values(old_stage, new_stage, now)
        if "closed_reason" in values and new_stage.outcome != "open":
            closing.pop("closed_reason", None)
        values.update(closing)
        values["position"] = place(new_stage_id, deal.id)
        values["stage_entered_at"] = now
    _write(deal, values)
    audit.record("update", "deal", deal.id, changes, actor=actor, via=via)
    if moving:
        _stage_change_activity(
            deal, stages.get(old_stage_id), new_stage, actor=actor, via=via, now=now
        )
    return changes


def move_deal(
    deal: Deal,
    stage: Stage,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    index: int | None = None,
    expected_version: int | None = None,
    actor=None,
    via: str = "web",
) -> bool:
    """Move a deal within its column or to another one (see `place` for where).

    Returns whether the stage changed. Raises DealConflict on a stale version.
    """
    _check_version(deal, expected_version)
    now = utcnow()
    old_stage_id = deal.stage_id
    position = place(stage.id, deal.id, before_id=before_id, after_id=after_id, index=index)
    values: dict[str, Any] = {"position": position, "stage_id": stage.id}
    moving = stage.id != old_stage_id
    old_stage = db.session.get(Stage, old_stage_id) if moving else stage
    if moving:
        values.update(_closing_values(old_stage, stage, now))
        values["stage_entered_at"] = now
    _write(deal, values)
    changes: dict[str, Any] = {"position": position}
    if moving:
        changes["stage"] = [old_stage.name if old_stage else None, stage.name]
    audit.record("move", "deal", deal.id, changes, actor=actor, via=via)
    if moving:
        _stage_change_activity(deal, old_stage, stage, actor=actor, via=via, now=now)
    return moving


def neighbour(deal: Deal, direction: str, conditions: list | None = None) -> int | None:
    """The id of the deal just above ("up") or below ("down") in its column, among
    those matching `conditions` (the board's filters); None at the edge."""
    key = tuple_(Deal.position, Deal.id)
    here = tuple_(deal.position, deal.id)
    stmt = select(Deal.id).where(Deal.stage_id == deal.stage_id, *(conditions or []))
    if direction == "up":
        stmt = stmt.where(key < here).order_by(Deal.position.desc(), Deal.id.desc())
    else:
        stmt = stmt.where(key > here).order_by(Deal.position, Deal.id)
    return db.session.scalar(stmt.limit(1))


def move_step(
    deal: Deal,
    direction: str,
    *,
    conditions: list | None = None,
    expected_version: int | None = None,
    actor=None,
    via: str = "web",
) -> bool:
    """Move a deal one place up or down in its column (past the next deal matching
    `conditions`). Returns False at the edge (nothing changes)."""
    _check_version(deal, expected_version)
    other = neighbour(deal, direction, conditions)
    if other is None:
        return False
    stage = db.session.get(Stage, deal.stage_id)
    assert stage is not None
    if direction == "up":
        move_deal(deal, stage, after_id=other, actor=actor, via=via)
    else:
        move_deal(deal, stage, before_id=other, actor=actor, via=via)
    return True


def delete_deal(
    deal: Deal, *, expected_version: int | None = None, actor=None, via: str = "web"
) -> None:
    """Delete a deal; the activities it left on the timeline stay (without a deal link)."""
    _check_version(deal, expected_version)
    stage = db.session.get(Stage, deal.stage_id)
    audit.record(
        "delete",
        "deal",
        deal.id,
        {
            "title": deal.title,
            "value": deal.value,
            "currency": deal.currency,
            "stage": stage.name if stage else None,
            "contact": _shown("contact_id", deal.contact_id),
        },
        actor=actor,
        via=via,
    )
    db.session.execute(
        update(Activity)
        .where(Activity.deal_id == deal.id)
        .values(deal_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.delete(deal)
    db.session.flush()


def deals_of(*, contact_id: int | None = None, company_id: int | None = None, limit: int = 20):
    """A contact's or a company's deals with their stage, open ones first, newest first."""
    stmt = select(Deal, Stage).join(Stage, Stage.id == Deal.stage_id)
    if contact_id is not None:
        stmt = stmt.where(Deal.contact_id == contact_id)
    if company_id is not None:
        stmt = stmt.where(Deal.company_id == company_id)
    order = (Stage.outcome != "open", Deal.created_at.desc(), Deal.id.desc())
    return list(db.session.execute(stmt.order_by(*order).limit(limit)))
