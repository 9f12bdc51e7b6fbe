"""Pipeline stages: the default set, and what admins do with stages (add, rename,
reorder, mark as open/won/lost, delete). No Flask import; the caller commits.

A stage is deleted only when it holds no deal (move its deals elsewhere first), and
the last stage is kept. Changing a stage's outcome updates its deals' closing date:
set (to now) when it becomes won or lost, cleared with the reason when it becomes open;
that is bookkeeping, not a move, so it adds no timeline activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update

from app import audit
from app.contacts.fields import ValidationFailed
from app.extensions import db
from app.i18n import N_, Message
from app.pipeline.models import DEFAULT_STAGES, Deal, Stage
from app.timeutil import utcnow

OUTCOMES = ("open", "won", "lost")
OUTCOME_LABELS = {"open": N_("Open"), "won": N_("Won"), "lost": N_("Lost")}
MAX_NAME = 100


class StageRefused(Exception):
    """A stage change that is not allowed (deleting a stage with deals, the last one)."""

    def __init__(self, message: str, *, deals: int = 0):
        super().__init__(str(message))
        self.message = message
        self.deals = deals


def ensure_default_stages() -> None:
    """Create Lead … Lost when no stage exists yet."""
    if db.session.scalar(select(func.count()).select_from(Stage)):
        return
    for position, (name, outcome) in enumerate(DEFAULT_STAGES):
        db.session.add(Stage(name=name, position=position, outcome=outcome))
    db.session.commit()


def all_stages() -> list[Stage]:
    """Every stage, in board order."""
    return list(db.session.scalars(select(Stage).order_by(Stage.position, Stage.id)))


def deal_counts() -> dict[int, int]:
    """Deals per stage id, in one grouped query."""
    rows = db.session.execute(select(Deal.stage_id, func.count()).group_by(Deal.stage_id))
    return {stage_id: n for stage_id, n in rows}


def clean_stage(data: Mapping[str, Any], *, stage: Stage | None = None) -> dict[str, Any]:
    """Validate "name", "outcome" (and "position", an int) as given; raise ValidationFailed."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "name" in data or stage is None:
        raw = data.get("name")
        name = " ".join(raw.split()) if isinstance(raw, str) else ""
        if not name:
            errors["name"] = N_("A stage needs a name.")
        elif len(name) > MAX_NAME:
            errors["name"] = Message(N_("Too long (at most %(n)s characters)."), n=MAX_NAME)
        else:
            clash = select(Stage.id).where(func.lower(Stage.name) == name.lower())
            if stage is not None:
                clash = clash.where(Stage.id != stage.id)
            if db.session.scalar(clash.limit(1)) is not None:
                errors["name"] = N_("Another stage has this name.")
            else:
                values["name"] = name
    if "outcome" in data or stage is None:
        outcome = data.get("outcome") or ("open" if stage is None else None)
        if outcome not in OUTCOMES:
            errors["outcome"] = N_("Choose open, won or lost.")
        else:
            values["outcome"] = outcome
    if "position" in data:
        raw = data["position"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            errors["position"] = N_("Enter a whole number, 0 or more.")
        else:
            values["position"] = raw
    if errors:
        raise ValidationFailed(errors)
    return values


def _reposition(stage: Stage, index: int) -> None:
    """Put `stage` at 0-based `index` in the board order and renumber every stage."""
    others = [s for s in all_stages() if s.id != stage.id]
    index = max(0, min(index, len(others)))
    others.insert(index, stage)
    for position, item in enumerate(others):
        if item.position != position:
            item.position = position
    db.session.flush()


def create_stage(data: Mapping[str, Any], *, actor=None, via: str = "web") -> Stage:
    """Add a stage (at the end unless "position" says where). Raises ValidationFailed."""
    values = clean_stage(data)
    index = values.pop("position", None)
    last = db.session.scalar(select(func.max(Stage.position)))
    stage = Stage(**values, position=(last if last is not None else -1) + 1)
    db.session.add(stage)
    db.session.flush()
    if index is not None:
        _reposition(stage, index)
    audit.record(
        "create",
        "stage",
        stage.id,
        {"name": stage.name, "outcome": stage.outcome, "position": stage.position},
        actor=actor,
        via=via,
    )
    return stage


def update_stage(
    stage: Stage, data: Mapping[str, Any], *, actor=None, via: str = "web"
) -> dict[str, list[Any]]:
    """Rename, change the outcome or the place of a stage; return the changes."""
    values = clean_stage(data, stage=stage)
    changes: dict[str, list[Any]] = {}
    index = values.pop("position", None)
    if index is not None:
        order = [s.id for s in all_stages()]
        old_index = order.index(stage.id)
        if index != old_index:
            _reposition(stage, index)
            changes["position"] = [old_index, min(index, len(order) - 1)]
    for column, new in values.items():
        old = getattr(stage, column)
        if old != new:
            changes[column] = [old, new]
            setattr(stage, column, new)
    if "outcome" in changes:
        closing = (
            {"closed_at": None, "closed_reason": None}
            if stage.outcome == "open"
            else {"closed_at": utcnow()}
        )
        stmt = update(Deal).where(Deal.stage_id == stage.id)
        if stage.outcome != "open" and changes["outcome"][0] != "open":
            stmt = stmt.where(Deal.closed_at.is_(None))
        db.session.execute(stmt.values(**closing).execution_options(synchronize_session=False))
    if changes:
        db.session.flush()
        audit.record("update", "stage", stage.id, changes, actor=actor, via=via)
    return changes


def move_stage(stage: Stage, direction: str, *, actor=None, via: str = "web") -> bool:
    """Swap a stage with its left ("up") or right ("down") neighbour; False at the edge."""
    order = [s.id for s in all_stages()]
    index = order.index(stage.id)
    target = index - 1 if direction == "up" else index + 1
    if target < 0 or target >= len(order):
        return False
    update_stage(stage, {"position": target}, actor=actor, via=via)
    return True


def delete_stage(stage: Stage, *, actor=None, via: str = "web") -> None:
    """Delete an empty stage (not the last one). Raises StageRefused."""
    count = db.session.scalar(select(func.count()).where(Deal.stage_id == stage.id)) or 0
    if count:
        raise StageRefused(
            Message(
                N_("Move the deals of %(name)s (%(n)s) to another stage before deleting it."),
                name=stage.name,
                n=count,
            ),
            deals=count,
        )
    if (db.session.scalar(select(func.count()).select_from(Stage)) or 0) <= 1:
        raise StageRefused(N_("The pipeline needs at least one stage."))
    audit.record(
        "delete",
        "stage",
        stage.id,
        {"name": stage.name, "outcome": stage.outcome},
        actor=actor,
        via=via,
    )
    db.session.delete(stage)
    db.session.flush()
    for position, item in enumerate(all_stages()):
        if item.position != position:
            item.position = position
    db.session.flush()
