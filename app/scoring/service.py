"""Lead scoring in the database: rules and the threshold setting, set-based rescoring of
contacts, the contact-event listener that keeps scores current, and recompute jobs.

Rescoring a set of contacts reads what the rules need in one query per rule (a field
rule: the ids among them that match its compiled segment condition; an activity rule:
one GROUP BY over their activities in its window, by age bucket), scores each contact
with app.scoring.rules.evaluate, writes the scores that changed in one executemany
UPDATE (lead_score only: no version bump, no audit entry, since a score is derived
data) and adds a "score_threshold" activity for each contact whose score crossed the
threshold, upward or downward (data.direction "up" / "down").

While no rule is enabled the listener does nothing: the lead score is then a plain
field, typed or imported. A recompute job always applies the enabled rules (so after
the last rule is removed every score returns to 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import (
    and_,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import ColumnElement, Select

from app import audit
from app.contacts import events
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_, Message
from app.jobs import runner
from app.jobs.models import Job
from app.scoring import rules as scoring
from app.scoring.models import AppSetting, ScoringRule
from app.scoring.rules import Rule, RuleInvalid, Score
from app.segments import compile as segment_compile
from app.segments.tree import TreeError
from app.timeline.models import Activity
from app.timeutil import utcnow

JOB_KIND = "scoring_recompute"
THRESHOLD_KEY = "score_threshold"
# Contacts rescored inline by the listener; a bigger change goes to a job.
INLINE_LIMIT = 5_000
# Contacts per query (IN lists stay well under every database's parameter limit).
BATCH = 5_000

_contacts = Contact.__table__
_activities = Activity.__table__
_PENDING = "kontor.scoring.enqueue"


# --------------------------------------------------------------------------- rules


def to_rule(row: ScoringRule) -> Rule:
    """The scorer's view of a stored rule."""
    return Rule(
        id=row.id,
        name=row.name,
        kind=row.kind,
        points=row.points,
        condition=row.condition,
        activity_kind=row.activity_kind,
        event_name=row.event_name,
        within_days=row.within_days,
        max_count=row.max_count or 1,
        decay_days=row.decay_days,
    )


def all_rules(session: Session) -> list[ScoringRule]:
    """Every rule, in their order."""
    return list(session.scalars(select(ScoringRule).order_by(ScoringRule.position, ScoringRule.id)))


def enabled_rules(session: Session) -> list[Rule]:
    """The enabled rules, in their order (one small query)."""
    rows = session.scalars(
        select(ScoringRule)
        .where(ScoringRule.enabled.is_(True))
        .order_by(ScoringRule.position, ScoringRule.id)
    )
    return [to_rule(r) for r in rows]


def rule_values(row: ScoringRule) -> dict[str, Any]:
    """A rule's stored values under the keys of rules.KEYS."""
    return {key: getattr(row, key) for key in scoring.KEYS}


def _clean(session: Session, data: dict[str, Any], current: dict[str, Any] | None) -> dict:
    """Validated values; the condition is parsed against the custom fields and lists.
    Raises RuleInvalid or TreeError."""
    values = scoring.clean_rule(data, current)
    condition_given = "condition" in data or (current or {}).get("kind") != values["kind"]
    if values["kind"] == "field" and condition_given:
        values["condition"] = segment_compile.validate(session, values["condition"])
        problem = scoring.check_condition(values["condition"])
        if problem:
            raise RuleInvalid({"condition": problem})
    return values


def create_rule(session: Session, data: dict[str, Any], *, actor=None, via: str = "web"):
    """Add a rule at the end of the list and queue the recompute of every score.
    Raises RuleInvalid or TreeError (nothing written). The caller commits."""
    values = _clean(session, data, None)
    last = session.scalar(select(func.max(ScoringRule.position)))
    row = ScoringRule(**values, position=(last if last is not None else -1) + 1)
    session.add(row)
    session.flush()
    audit.record("create", "scoring_rule", row.id, values, actor=actor, via=via)
    request_recompute(session, reason="rules", actor=actor)
    return row


# Changing only these leaves every score as it is.
_COSMETIC = frozenset({"name"})


def update_rule(
    session: Session, row: ScoringRule, data: dict[str, Any], *, actor=None, via: str = "web"
) -> dict[str, list[Any]]:
    """Change the given values; queue a recompute when the scores can change.
    Returns {key: [old, new]}. Raises RuleInvalid or TreeError. The caller commits."""
    current = rule_values(row)
    values = _clean(session, data, current)
    changes = {k: [current.get(k), v] for k, v in values.items() if current.get(k) != v}
    if not changes:
        return {}
    for key, (_old, new) in changes.items():
        setattr(row, key, new)
    row.updated_at = utcnow()
    session.flush()
    audit.record("update", "scoring_rule", row.id, changes, actor=actor, via=via)
    if rescores(changes, row):
        request_recompute(session, reason="rules", actor=actor)
    return changes


def rescores(changes: dict[str, Any], row: ScoringRule) -> bool:
    """Whether these changes of a rule can change scores (a rename cannot, nor a change
    of a rule that stays disabled)."""
    return bool(set(changes) - _COSMETIC) and (row.enabled or "enabled" in changes)


def delete_rule(session: Session, row: ScoringRule, *, actor=None, via: str = "web") -> None:
    """Delete a rule; queue a recompute when it was enabled. The caller commits."""
    was_enabled = row.enabled
    audit.record(
        "delete", "scoring_rule", row.id, {"name": row.name, "points": row.points},
        actor=actor, via=via,
    )  # fmt: skip
    session.delete(row)
    session.flush()
    if was_enabled:
        request_recompute(session, reason="rules", actor=actor)


def move_rule(
    session: Session, row: ScoringRule, offset: int, *, actor=None, via: str = "web"
) -> bool:
    """Move a rule up (-1) or down (+1) the list; False when it is at that end already.
    The order is how the explanation lists the rules: the score (a sum) stays the same,
    so nothing is recomputed."""
    rows = all_rules(session)
    index = next(i for i, r in enumerate(rows) if r.id == row.id)
    target = index + offset
    if not 0 <= target < len(rows):
        return False
    rows.insert(target, rows.pop(index))
    for position, r in enumerate(rows):
        r.position = position
    session.flush()
    audit.record(
        "reorder", "scoring_rule", row.id, {"position": [index, target]}, actor=actor, via=via
    )
    return True


def reorder(session: Session, ids: Sequence[int], *, actor=None, via: str = "web") -> None:
    """Put the rules in the order of `ids` (rules not named keep their order, after them)."""
    rows = all_rules(session)
    rank = {int(i): n for n, i in enumerate(ids)}
    rows.sort(key=lambda r: (rank.get(r.id, len(rank)), r.position, r.id))
    for position, r in enumerate(rows):
        r.position = position
    session.flush()
    audit.record(
        "reorder", "scoring_rule", None, {"order": [r.id for r in rows]}, actor=actor, via=via
    )


# --------------------------------------------------------------------------- threshold


def get_threshold(session: Session) -> int | None:
    """The score threshold the admin set, or None (no threshold activities)."""
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == THRESHOLD_KEY))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def clean_threshold(raw: Any) -> int | None:
    """A threshold from a form or JSON: a whole number 1-100, or None / "" for none."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    errors: dict[str, str] = {}
    value = scoring.whole_number({"threshold": raw}, "threshold", 1, scoring.MAX_SCORE, errors)
    if errors:
        raise RuleInvalid(errors)
    return value


def set_threshold(session: Session, raw: Any, *, actor=None, via: str = "web") -> int | None:
    """Set (or clear, with None) the threshold. Scores do not change, so no contact
    crosses it now: crossings are recorded when scores move. Raises RuleInvalid."""
    value = clean_threshold(raw)
    old = get_threshold(session)
    if value == old:
        return value
    row = session.get(AppSetting, THRESHOLD_KEY)
    if row is None:
        row = AppSetting(key=THRESHOLD_KEY, value=value)
        session.add(row)
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()
    audit.record("update", "setting", None, {THRESHOLD_KEY: [old, value]}, actor=actor, via=via)
    return value


# --------------------------------------------------------------------------- rescoring


@dataclass
class Plan:
    """The enabled rules ready to run: field conditions compiled once, the moment
    windows end (`now`), the threshold, and the rules that cannot be evaluated (a
    custom field they test was deleted): those give no points."""

    rules: list[Rule]
    conditions: dict[int, ColumnElement]
    broken: dict[int, str]
    now: datetime
    threshold: int | None


def prepare(
    session: Session, *, rules: list[Rule] | None = None, now: datetime | None = None
) -> Plan:
    """Load (or take) the enabled rules and compile their conditions."""
    rules = enabled_rules(session) if rules is None else rules
    now = now or utcnow()
    conditions: dict[int, ColumnElement] = {}
    broken: dict[int, str] = {}
    field_rules = [r for r in rules if r.kind == "field"]
    types = segment_compile.custom_field_types(session) if field_rules else {}
    for rule in field_rules:
        try:
            conditions[rule.id] = segment_compile.condition(rule.condition or {}, types, now=now)
        except TreeError as exc:
            broken[rule.id] = f"{exc.path}: {exc.message}" if exc.path else str(exc.message)
    return Plan(rules, conditions, broken, now, get_threshold(session))


@dataclass
class Stats:
    """What a rescore did."""

    rescored: int = 0
    changed: int = 0
    up: int = 0
    down: int = 0

    def add(self, other: Stats) -> None:
        self.rescored += other.rescored
        self.changed += other.changed
        self.up += other.up
        self.down += other.down


def _scope(ids: Sequence[int] | None, id_range: tuple[int, int] | None):
    """A function giving the filter on a contact id column: the ids, or lo <= id <= hi."""
    if id_range is not None:
        lo, hi = id_range
        return lambda col: col.between(lo, hi)
    assert ids is not None
    return lambda col: col.in_(list(ids))


def _activity_facts(rule: Rule, now: datetime, scope) -> Select:
    """(contact_id, bucket, n): a contact's activities in the rule's window per age bucket."""
    a = _activities
    where = [
        scope(a.c.contact_id),
        a.c.kind == rule.activity_kind,
        a.c.occurred_at >= now - timedelta(days=rule.within_days or 0),
        a.c.occurred_at <= now,
    ]
    if rule.activity_kind == "custom_event" and rule.event_name:
        where.append(a.c.event_name == rule.event_name)
    buckets = scoring.bucket_count(rule.within_days or 0, rule.decay_days)
    if not rule.decay_days:
        return select(a.c.contact_id, func.count()).where(*where).group_by(a.c.contact_id)
    period = timedelta(days=rule.decay_days)
    # Older than the last bucket is worth nothing (rules.MAX_HALVINGS).
    where.append(a.c.occurred_at > now - period * buckets)
    whens = [(a.c.occurred_at > now - period * (k + 1), k) for k in range(buckets - 1)]
    bucket = case(*whens, else_=buckets - 1) if whens else literal_column("0")
    inner = select(a.c.contact_id.label("cid"), bucket.label("bucket")).where(*where).subquery()
    return select(inner.c.cid, inner.c.bucket, func.count()).group_by(inner.c.cid, inner.c.bucket)


def gather(
    session: Session,
    plan: Plan,
    *,
    ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> tuple[dict[int, int], dict[int, dict[int, Any]]]:
    """({contact id: stored score}, {contact id: {rule id: fact}}) of the contacts among
    `ids` (or with lo <= id <= hi) that exist, in one query per rule."""
    scope = _scope(ids, id_range)
    c = _contacts
    old = {
        cid: score
        for cid, score in session.execute(select(c.c.id, c.c.lead_score).where(scope(c.c.id)))
    }
    facts: dict[int, dict[int, Any]] = {cid: {} for cid in old}
    if not old:
        return old, facts
    for rule in plan.rules:
        if rule.kind == "field":
            cond = plan.conditions.get(rule.id)
            if cond is None:
                continue
            for cid in session.scalars(select(c.c.id).where(and_(scope(c.c.id), cond))):
                if cid in facts:
                    facts[cid][rule.id] = True
        elif rule.decay_days:
            for cid, bucket, n in session.execute(_activity_facts(rule, plan.now, scope)):
                if cid in facts:
                    facts[cid].setdefault(rule.id, {})[int(bucket)] = int(n)
        else:
            for cid, n in session.execute(_activity_facts(rule, plan.now, scope)):
                if cid in facts:
                    facts[cid][rule.id] = {0: int(n)}
    return old, facts


def _subject(score: int, threshold: int, direction: str) -> str:
    if direction == "up":
        template = N_("Lead score reached %(score)s (threshold %(threshold)s)")
    else:
        template = N_("Lead score fell to %(score)s (below threshold %(threshold)s)")
    return str(Message(template, score=score, threshold=threshold))


def rescore(
    session: Session,
    plan: Plan,
    *,
    ids: Iterable[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> Stats:
    """Score the contacts among `ids` (or lo <= id <= hi) with the plan's rules, store
    the scores that changed and record threshold crossings. The caller commits."""
    stats = Stats()
    if ids is not None:
        unique = sorted({int(i) for i in ids})
        for start in range(0, len(unique), BATCH):
            chunk = unique[start : start + BATCH]
            if chunk[-1] - chunk[0] + 1 == len(chunk):  # consecutive (an import's new ids)
                stats.add(_rescore(session, plan, id_range=(chunk[0], chunk[-1])))
            else:
                stats.add(_rescore(session, plan, ids=chunk))
        return stats
    return _rescore(session, plan, id_range=id_range)


def _rescore(session: Session, plan: Plan, **scope: Any) -> Stats:
    old, facts = gather(session, plan, **scope)
    stats = Stats(rescored=len(old))
    changed: dict[int, int] = {}
    crossings: list[dict[str, Any]] = []
    now = utcnow()
    for cid in sorted(old):
        new = scoring.evaluate(plan.rules, facts[cid]).score
        if new == old[cid]:
            continue
        changed[cid] = new
        direction = scoring.crossing(old[cid], new, plan.threshold)
        if direction is None:
            continue
        if direction == "up":
            stats.up += 1
        else:
            stats.down += 1
        crossings.append(
            {
                "contact_id": cid,
                "kind": "score_threshold",
                "subject": _subject(new, plan.threshold, direction),
                "data": {
                    "score": new,
                    "previous": old[cid],
                    "threshold": plan.threshold,
                    "direction": direction,
                },
                "source": "scoring",
                "occurred_at": now,
                "created_at": now,
            }
        )
    stats.changed = len(changed)
    if not changed:
        return stats
    conn = session.connection()
    stmt = (
        update(_contacts)
        .where(_contacts.c.id == bindparam("b_id"))
        .values(lead_score=bindparam("b_score"))
    )
    conn.execute(stmt, [{"b_id": cid, "b_score": s} for cid, s in changed.items()])
    if crossings:
        # Not announced as activities_changed: the score is what made it.
        conn.execute(insert(_activities), crossings)
    _sync_loaded(session, changed)
    return stats


def _sync_loaded(session: Session, scores: dict[int, int]) -> None:
    """Give Contact objects already loaded in the session their new score."""
    for key, obj in list(session.identity_map.items()):
        if key[0] is Contact and key[1] and key[1][0] in scores:
            set_committed_value(obj, "lead_score", scores[key[1][0]])


# --------------------------------------------------------------------------- explanation


@dataclass
class Explanation:
    """Why a contact has its score: `score` computed now by the rules (None while no rule
    is enabled: the stored score is then set by hand or by imports)."""

    contact_id: int
    stored: int
    score: Score | None
    threshold: int | None
    broken: dict[int, str] = field(default_factory=dict)

    @property
    def value(self) -> int:
        return self.score.score if self.score is not None else self.stored

    @property
    def stale(self) -> bool:
        """The stored score is behind the rules (decay moved on, or a recompute is queued)."""
        return self.score is not None and self.score.score != self.stored


def explain(
    session: Session, contact_id: int, *, now: datetime | None = None
) -> Explanation | None:
    """The explanation of one contact's score (None when there is no such contact), by the
    same code that computes the stored scores."""
    plan = prepare(session, now=now)
    if not plan.rules:
        stored = session.scalar(select(_contacts.c.lead_score).where(_contacts.c.id == contact_id))
        if stored is None:
            return None
        return Explanation(contact_id, stored, None, plan.threshold)
    old, facts = gather(session, plan, ids=[contact_id])
    if contact_id not in old:
        return None
    score = scoring.evaluate(plan.rules, facts[contact_id])
    return Explanation(contact_id, old[contact_id], score, plan.threshold, dict(plan.broken))


# --------------------------------------------------------------------------- jobs


def _enqueue_after_commit(session: Session, job_id: int) -> None:
    """Hand the job to the workers once the transaction that created it commits."""
    session.info.setdefault(_PENDING, []).append(job_id)


@sa_event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        from app.jobs import queue

        for job_id in pending:
            queue.enqueue(job_id)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)
        session.info.pop(_LATER, None)


_TITLES = {
    "rules": N_("Recompute lead scores: the rules changed"),
    "bulk": N_("Recompute lead scores after a bulk change"),
    "daily": N_("Recompute lead scores (daily, for decay)"),
    "manual": N_("Recompute lead scores"),
}


def queued_job(session: Session) -> Job | None:
    """A recompute of everyone that has not started yet."""
    rows = session.scalars(
        select(Job).where(Job.kind == JOB_KIND, Job.status == "queued").order_by(Job.id.desc())
    )
    return next((j for j in rows if not (j.params or {}).get("ids")), None)


def latest_job(session: Session) -> Job | None:
    """The newest recompute job (for the rules page)."""
    return session.scalar(select(Job).where(Job.kind == JOB_KIND).order_by(Job.id.desc()).limit(1))


def request_recompute(
    session: Session,
    *,
    reason: str = "manual",
    actor=None,
    ids: Sequence[int] | None = None,
    enqueue: bool = True,
) -> Job:
    """A recompute job of every contact (or of `ids`), sent to the workers when the
    transaction commits (not with enqueue=False: the caller runs it). A recompute of
    everyone that is still waiting serves again instead of queueing a second one."""
    if ids is None and enqueue:
        existing = queued_job(session)
        if existing is not None:
            return existing
    params: dict[str, Any] = {"reason": reason}
    if ids is not None:
        params["ids"] = sorted({int(i) for i in ids})
    title = gettext(_TITLES.get(reason, _TITLES["manual"]))
    job = runner.create(JOB_KIND, params, title=title, actor=actor)
    if enqueue:
        _enqueue_after_commit(session, job.id)
    return job


# --------------------------------------------------------------------------- listener


def inline_limit() -> int:
    """How many contacts a change may touch to be rescored inline (config
    SCORING_INLINE_LIMIT, default INLINE_LIMIT); a bigger change goes to a job."""
    return int(current_app.config.get("SCORING_INLINE_LIMIT", INLINE_LIMIT))


_REFS = frozenset({"reports_to", "referred_by"})
_LATER = "kontor.scoring.rescore_before_commit"


@events.listener("scoring")
def on_contact_event(event: events.ContactEvent) -> None:
    """Keep the scores of changed contacts current, in the same transaction."""
    session = db.session
    rules = enabled_rules(session)
    if not rules:
        return
    if event.kind == "deleted":
        _referrers_of_deleted(session, rules, event.ids)
        return
    if event.kind == "updated" and not scoring.affected_by(rules, event.fields):
        return
    if event.kind == "activities_changed" and not scoring.uses_activities(rules):
        return
    ids = event.ids
    limit = inline_limit()
    if isinstance(ids, Select):
        # A bulk action: small ones are rescored at once, a big one by a job.
        found = list(session.scalars(ids.limit(limit + 1)))
        if len(found) > limit:
            request_recompute(session, reason="bulk")
            return
        ids = found
    if len(ids) > limit:
        request_recompute(session, reason="bulk", ids=ids)
        return
    rescore(session, prepare(session, rules=rules), ids=ids)


def _referrers_of_deleted(session: Session, rules: list[Rule], ids: events.Ids) -> None:
    """Contacts that report to (or were referred by) deleted ones lose that link when the
    rows go (after this event): rescore them just before the transaction commits, when
    the links are gone, if a rule looks at those links."""
    if not any(scoring.dependencies(rule) & _REFS for rule in rules):
        return
    c = _contacts
    if not isinstance(ids, Select):
        ids = list(ids)
    refer = or_(c.c.reports_to_id.in_(ids), c.c.referred_by_id.in_(ids))
    found = list(
        session.scalars(select(c.c.id).where(refer, c.c.id.not_in(ids)).limit(INLINE_LIMIT + 1))
    )
    if len(found) > INLINE_LIMIT:
        request_recompute(session, reason="bulk")
    elif found:
        session.info.setdefault(_LATER, set()).update(found)


@sa_event.listens_for(Session, "before_commit")
def _rescore_later(session: Session) -> None:
    later = session.info.pop(_LATER, None)
    if not later:
        return
    rules = enabled_rules(session)
    if rules:
        rescore(session, prepare(session, rules=rules), ids=later)
