"""Lead scoring rules: validate them, and turn what is known of a contact into its score
and the explanation of that score (pure: no Flask, no database).

A rule gives ± `points`:

- kind "field": the contact matches `condition`, a segment condition tree
  (app.segments.tree: field, list, activity and event leaves, groups);
- kind "activity": the contact has activities of `activity_kind` (a custom event: of
  `event_name`) in the last `within_days` days. Each activity is worth `points`, and
  at most `max_count` of them count, the most recent first (so with max_count 1 the
  rule gives its points once). With `decay_days`, an activity's worth halves for every
  whole `decay_days` of its age: an activity 0 to decay_days-1 days old is worth all
  the points, then half, a quarter...; after MAX_HALVINGS halvings it is worth nothing.
  The rule's points are the sum of the counted activities' worth, rounded (half away
  from zero).

The score is the sum of every enabled rule's points, clipped to 0-100. `evaluate` gives
the score together with the lines that explain it, from the same numbers, so that the
contact page's explanation and the stored score cannot disagree.

What the database says of one contact ("facts", gathered set-based by
app.scoring.service) is per rule: for a field rule whether it matches (bool); for an
activity rule the number of activities per age bucket {bucket: n}, where bucket
k = whole decay periods of age (always 0 without decay).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.contacts.fields import BY_NAME
from app.i18n import N_, Message
from app.timeline.models import ACTIVITY_KINDS

RULE_KINDS = ("field", "activity")
MIN_SCORE, MAX_SCORE = 0, 100
MAX_POINTS = 100
MAX_COUNT = 100
MAX_DAYS = 36_500
MAX_NAME = 200
MAX_EVENT_NAME = 100
# After this many halvings an activity is worth nothing (100 points x 100 activities
# / 2**17 < 0.1 point): it bounds the age buckets a query has to tell apart.
MAX_HALVINGS = 16
# Kontor's own bookkeeping (a score that depends on its own threshold activity, or on
# the field-change entry written after the change is scored, would chase itself).
UNSCORABLE_KINDS = frozenset({"field_change", "import", "merge", "score_threshold"})
SCORABLE_KINDS = tuple(k for k in ACTIVITY_KINDS if k not in UNSCORABLE_KINDS)
# Dependency markers besides field names (see dependencies()).
ACTIVITIES = "@activities"
EVERYTHING = "@all"
# Fields that change with every save, or with the activities, not by name.
_MOVES_WITH_ACTIVITIES = frozenset({"last_activity_at", "last_contacted_at"})
_MOVES_WITH_ANY_SAVE = frozenset({"updated_at", "version"})
KEYS = frozenset(
    {
        "name",
        "kind",
        "points",
        "enabled",
        "condition",
        "activity_kind",
        "event_name",
        "within_days",
        "max_count",
        "decay_days",
    }
)
FIELD_KEYS = frozenset({"condition"})
ACTIVITY_KEYS = frozenset({"activity_kind", "event_name", "within_days", "max_count", "decay_days"})


@dataclass(frozen=True)
class Rule:
    """A rule as the scorer sees it (see the module docstring)."""

    id: int
    name: str
    kind: str
    points: int
    condition: dict | None = None
    activity_kind: str | None = None
    event_name: str | None = None
    within_days: int | None = None
    max_count: int = 1
    decay_days: int | None = None


@dataclass(frozen=True)
class Line:
    """What one rule gave a contact. For an activity rule: how many activities were found
    in the window, how many counted (max_count) and whether older ones counted less."""

    rule_id: int
    name: str
    kind: str
    points: int
    found: int = 0
    counted: int = 0
    decayed: bool = False
    within_days: int | None = None


@dataclass(frozen=True)
class Score:
    """A contact's score (0-100), the unclipped sum, and the rules that gave points
    (rules that gave nothing are left out), in rule order."""

    score: int
    total: int
    lines: tuple[Line, ...] = field(default_factory=tuple)

    @property
    def clipped(self) -> bool:
        return self.total != self.score


class RuleInvalid(ValueError):
    """Invalid rule data: {field: message}, every bad field named."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --------------------------------------------------------------------------- scoring


def round_half_away(x: float) -> int:
    """Round to the nearest whole number, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def clip(total: int) -> int:
    """The score of a sum of points: within 0-100."""
    return max(MIN_SCORE, min(MAX_SCORE, total))


def bucket_count(within_days: int, decay_days: int | None) -> int:
    """How many age buckets an activity rule tells apart (1 without decay)."""
    if not decay_days:
        return 1
    return min(math.ceil(within_days / decay_days), MAX_HALVINGS + 1)


def age_bucket(age_days: float, decay_days: int | None) -> int:
    """The age bucket of an activity `age_days` old: whole decay periods (0 without decay)."""
    if not decay_days:
        return 0
    return int(max(age_days, 0) // decay_days)


def activity_points(
    points: int, buckets: Mapping[int, int], max_count: int
) -> tuple[int, int, int, bool]:
    """(points given, activities found, activities counted, whether any counted one was
    decayed) for an activity rule, from its activities per age bucket."""
    found = sum(n for b, n in buckets.items() if 0 <= b <= MAX_HALVINGS and n > 0)
    left = max(max_count, 1)
    worth = 0.0
    counted = 0
    decayed = False
    for bucket in sorted(b for b in buckets if 0 <= b <= MAX_HALVINGS):
        n = min(buckets[bucket], left)
        if n <= 0:
            continue
        worth += n * points / 2**bucket
        counted += n
        left -= n
        decayed = decayed or bucket > 0
        if left == 0:
            break
    return round_half_away(worth), found, counted, decayed


def evaluate(rules: Sequence[Rule], facts: Mapping[int, Any]) -> Score:
    """The score and its explanation of one contact, from its facts by rule id (a field
    rule's bool, an activity rule's {bucket: n}; a missing fact gives nothing)."""
    lines: list[Line] = []
    total = 0
    for rule in rules:
        fact = facts.get(rule.id)
        if rule.kind == "field":
            if not fact:
                continue
            lines.append(Line(rule.id, rule.name, rule.kind, rule.points))
            total += rule.points
            continue
        if not fact:
            continue
        given, found, counted, decayed = activity_points(rule.points, fact, rule.max_count)
        if given == 0:
            continue
        lines.append(
            Line(
                rule.id,
                rule.name,
                rule.kind,
                given,
                found=found,
                counted=counted,
                decayed=decayed,
                within_days=rule.within_days,
            )
        )
        total += given
    return Score(clip(total), total, tuple(lines))


def crossing(old: int | None, new: int, threshold: int | None) -> str | None:
    """The direction a score change crosses the threshold: "up" when it reaches it from
    below, "down" when it falls below it, None otherwise (or without a threshold)."""
    if threshold is None or old is None:
        return None
    if old < threshold <= new:
        return "up"
    if new < threshold <= old:
        return "down"
    return None


# --------------------------------------------------------------------------- dependencies


def walk_tree(node: Any) -> Iterable[dict]:
    """Every node of a condition tree, depth first."""
    if not isinstance(node, dict):
        return
    yield node
    for key in ("all", "any"):
        for child in node.get(key) or []:
            yield from walk_tree(child)
    if isinstance(node.get("not"), dict):
        yield from walk_tree(node["not"])


def dependencies(rule: Rule) -> frozenset[str]:
    """What a change must touch for the rule's verdict to change: field names as contact
    events name them (both "owner" and "owner_id", "tags", "lists", "custom.<name>"),
    ACTIVITIES for the contact's activities, EVERYTHING for any save."""
    if rule.kind == "activity":
        return frozenset({ACTIVITIES})
    out: set[str] = set()
    for node in walk_tree(rule.condition):
        if "field" in node:
            name = str(node["field"])
            out.add(name)
            spec = BY_NAME.get(name)
            if spec is not None:
                out.add(spec.db_column)
            if name in _MOVES_WITH_ACTIVITIES:
                out.add(ACTIVITIES)
            if name in _MOVES_WITH_ANY_SAVE:
                out.add(EVERYTHING)
        elif "list" in node:
            out.add("lists")
        elif "activity" in node or "event" in node:
            out.add(ACTIVITIES)
    return frozenset(out)


def affected_by(rules: Sequence[Rule], fields: Iterable[str] | None) -> bool:
    """Whether a change of these contact fields (None: unknown) can change a score.
    A changed lead_score always does: the rules set it back."""
    if not rules:
        return False
    if fields is None:
        return True
    changed = set(fields)
    if "lead_score" in changed:
        return True
    for rule in rules:
        deps = dependencies(rule)
        if EVERYTHING in deps or deps & changed:
            return True
    return False


def uses_activities(rules: Sequence[Rule]) -> bool:
    """Whether some rule looks at activities (so adding or removing one can change a score)."""
    return any(ACTIVITIES in dependencies(rule) for rule in rules)


# --------------------------------------------------------------------------- validation


def whole_number(
    data: Mapping[str, Any],
    key: str,
    low: int,
    high: int,
    errors: dict,
    *,
    required: bool = True,
) -> int | None:
    """data[key] as a whole number from low to high (a form's text too); None, with the
    message in errors[key], when it is not one (or missing while required)."""
    raw = data.get(key)
    if raw is None or raw == "":
        if required:
            errors[key] = N_("A value is required.")
        return None
    if isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            errors[key] = N_("Expected a whole number.")
            return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        errors[key] = N_("Expected a whole number.")
        return None
    if not low <= raw <= high:
        errors[key] = Message(N_("Expected a number from %(low)s to %(high)s."), low=low, high=high)
        return None
    return raw


def clean_rule(data: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate rule data (every key of KEYS; on an update, `current` holds the stored
    values and `data` only the changed ones) and return the full cleaned values.

    The condition of a field rule is only checked for shape here (an object, and no
    lead_score or bookkeeping activity in it: see check_condition); the service parses
    it against the database's custom fields and lists. Raises RuleInvalid."""
    errors: dict[str, str] = {}
    for key in data:
        if key not in KEYS:
            errors[str(key)] = N_("Unknown field.")
    merged: dict[str, Any] = {**(current or {}), **data}
    out: dict[str, Any] = {}

    name = merged.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = N_("A name is required.")
    elif len(name.strip()) > MAX_NAME:
        errors["name"] = Message(N_("At most %(n)s characters."), n=MAX_NAME)
    else:
        out["name"] = name.strip()

    kind = merged.get("kind")
    if kind not in RULE_KINDS:
        errors["kind"] = Message(N_("Expected one of: %(choices)s."), choices=", ".join(RULE_KINDS))

    points = whole_number(merged, "points", -MAX_POINTS, MAX_POINTS, errors)
    if points == 0:
        errors["points"] = N_("A rule must give or take some points.")
    out["points"] = points

    enabled = merged.get("enabled", True)
    if enabled in ("1", "on", "true"):
        enabled = True
    elif enabled in ("0", "off", "false", ""):
        enabled = False
    if not isinstance(enabled, bool):
        errors["enabled"] = N_("Expected true or false.")
    out["enabled"] = enabled

    if kind == "field":
        condition = merged.get("condition")
        if not isinstance(condition, dict) or not condition:
            errors["condition"] = N_("A field rule needs a condition.")
        else:
            problem = check_condition(condition)
            if problem:
                errors["condition"] = problem
            out["condition"] = condition
        for key in ACTIVITY_KEYS:
            out[key] = None
            given = data.get(key)
            if given not in (None, "") and not (key == "max_count" and given in (1, "1")):
                errors.setdefault(key, N_("Only an activity rule has this."))
        out["max_count"] = 1
    elif kind == "activity":
        activity = merged.get("activity_kind")
        if activity not in SCORABLE_KINDS:
            errors["activity_kind"] = (
                N_("Kontor's own bookkeeping cannot be scored.")
                if activity in UNSCORABLE_KINDS
                else N_("Choose an activity kind.")
            )
        out["activity_kind"] = activity
        event_name = merged.get("event_name")
        if activity == "custom_event":
            if not isinstance(event_name, str) or not event_name.strip():
                errors["event_name"] = N_("A custom event rule needs the event's name.")
            elif len(event_name.strip()) > MAX_EVENT_NAME:
                errors["event_name"] = Message(N_("At most %(n)s characters."), n=MAX_EVENT_NAME)
            else:
                out["event_name"] = event_name.strip()
        else:
            if isinstance(event_name, str) and event_name.strip() and "event_name" in data:
                errors["event_name"] = N_("Only a custom event has a name.")
            out["event_name"] = None
        out["within_days"] = whole_number(merged, "within_days", 1, MAX_DAYS, errors)
        max_count = merged.get("max_count")
        out["max_count"] = (
            1
            if max_count in (None, "")
            else whole_number(merged, "max_count", 1, MAX_COUNT, errors)
        )
        out["decay_days"] = whole_number(merged, "decay_days", 1, MAX_DAYS, errors, required=False)
        out["condition"] = None
        if "condition" in data and data["condition"] not in (None, {}):
            errors["condition"] = N_("Only a field rule has a condition.")
    out["kind"] = kind
    if errors:
        raise RuleInvalid(errors)
    return out


def check_condition(condition: Any) -> str | None:
    """Why a condition cannot score (None when it can): it may not test the lead score
    itself, nor Kontor's bookkeeping activities."""
    for node in walk_tree(condition):
        if node.get("field") == "lead_score":
            return N_("A rule cannot test the lead score itself.")
        if node.get("activity") in UNSCORABLE_KINDS:
            return Message(
                N_('The activity "%(kind)s" is Kontor\'s own bookkeeping and cannot be scored.'),
                kind=str(node.get("activity")),
            )
    return None
