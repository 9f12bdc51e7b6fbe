"""A plain-Python evaluator of segment trees over plain dicts: the specification the
compiled SQL is checked against (tests/segments/test_compile.py).

A world is a dict:
  contacts:  [{"id", "email", "first_name", "city", "country", "status", "consent_status",
               "lead_score", "owner_id", "company_id", "created_at", "last_activity_at",
               "birthday", "archived_at",
               "tags": [names], "lists": {list_id: status},
               "custom": {field name: [values]},
               "activities": [{"kind", "occurred_at", "data", "event_name", "value"}]}]
  users:     {id: email}       companies: {id: name}       lists: {id: name}
  custom_fields: {name: CustomFieldType}
Datetimes are naive UTC, dates are date objects. The tree is the normalised one
(app.segments.tree.parse). Case folding is ASCII-only, like SQLite's lower(): the test
data keeps non-ASCII letters lower-case, where every database folds the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.contacts.fields import BY_NAME

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_EXACT_TEXT = {"email", "phone", "country", "choice"}
_REF_COLUMNS = {"owner": "owner_id", "company": "company_id"}


def fold(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def evaluate(tree: dict, world: dict, *, timezone: str = "UTC", now: datetime) -> set[int]:
    """Ids of the non-archived contacts the tree matches."""
    ev = _Evaluator(world, ZoneInfo(timezone), now)
    return {c["id"] for c in world["contacts"] if c["archived_at"] is None and ev.node(tree, c)}


def compare(op: str, value: Any, n: Any) -> bool:
    if op == "eq":
        return n == value
    if op == "neq":
        return n != value
    if op == "gt":
        return n > value
    if op == "gte":
        return n >= value
    if op == "lt":
        return n < value
    if op == "lte":
        return n <= value
    if op == "between":
        return value[0] <= n <= value[1]
    raise AssertionError(op)


def _text(op: str, value: Any, stored: str | None, exact: bool) -> bool:
    """Text operators; stored None or "" is "not set"; negatives match missing values."""
    if op == "is_set":
        return bool(stored)
    if op == "is_not_set":
        return not stored
    negate = op in ("neq", "not_in", "not_contains")
    op = {"neq": "eq", "not_in": "in", "not_contains": "contains"}.get(op, op)
    if stored is None:
        return negate
    if op == "eq":
        hit = stored == value if exact else fold(stored) == fold(value)
    elif op == "in":
        hit = stored in value if exact else fold(stored) in {fold(v) for v in value}
    elif op == "contains":
        hit = fold(value) in fold(stored)
    elif op == "starts_with":
        hit = fold(stored).startswith(fold(value))
    elif op == "ends_with":
        hit = fold(stored).endswith(fold(value))
    else:
        raise AssertionError(op)
    return hit != negate


class _Evaluator:
    def __init__(self, world: dict, zone: ZoneInfo, now: datetime):
        self.world = world
        self.zone = zone
        self.now = now
        self.today = now.replace(tzinfo=UTC).astimezone(zone).date()

    def local_date(self, value: datetime) -> date:
        return value.replace(tzinfo=UTC).astimezone(self.zone).date()

    def node(self, node: dict, c: dict) -> bool:
        if "all" in node:
            return all(self.node(child, c) for child in node["all"])
        if "any" in node:
            return any(self.node(child, c) for child in node["any"])
        if "not" in node:
            return not self.node(node["not"], c)
        if "field" in node:
            return self.field(node, c)
        if "list" in node:
            return self.list_(node, c)
        if "activity" in node:
            return self.activity(node, c)
        return self.event(node, c)

    # ---- fields

    def field(self, node: dict, c: dict) -> bool:
        name, op, value = node["field"], node["op"], node.get("value")
        if name == "tags":
            return self.multi(op, value, {t.casefold() for t in c["tags"]}, fold_=True)
        if name.startswith("custom."):
            return self.custom(name[7:], op, value, c)
        spec = BY_NAME[name]
        if spec.type == "ref":
            return self.ref(name, op, value, c[_REF_COLUMNS[name]])
        stored = c[spec.db_column]
        if spec.type in ("text", "url", "email", "phone", "country", "choice"):
            return _text(op, value, stored, spec.type in _EXACT_TEXT)
        if spec.type == "int":
            return self.number(op, value, stored)
        return self.date(op, value, stored, spec.type == "datetime")

    def number(self, op: str, value: Any, stored: float | None) -> bool:
        if op == "is_set":
            return stored is not None
        if op == "is_not_set":
            return stored is None
        if stored is None:
            return op == "neq"
        return compare(op, value, stored)

    def date(self, op: str, value: Any, stored: Any, is_datetime: bool) -> bool:
        if op == "is_set":
            return stored is not None
        if op == "is_not_set":
            return stored is None
        if stored is None:
            return False
        if op in ("within_last_days", "more_than_days_ago"):
            if is_datetime:
                start, end = self.now - timedelta(days=value), self.now
            else:
                start, end = self.today - timedelta(days=value), self.today
            if op == "within_last_days":
                return start <= stored <= end
            return stored < start
        day = self.local_date(stored) if is_datetime else stored
        if op == "before":
            return day < date.fromisoformat(value)
        if op == "after":
            return day > date.fromisoformat(value)
        first, last = (date.fromisoformat(v) for v in value)
        return first <= day <= last

    def ref(self, name: str, op: str, value: Any, stored: int | None) -> bool:
        if op == "is_set":
            return stored is not None
        if op == "is_not_set":
            return stored is None
        values = value if isinstance(value, list) else [value]
        table = self.world["users"] if name == "owner" else self.world["companies"]
        hit = False
        if stored is not None:
            for v in values:
                if isinstance(v, int):
                    hit = hit or stored == v
                elif name == "company":
                    hit = hit or fold(table.get(stored, "")) == fold(v)
                else:
                    hit = hit or table.get(stored) == v
        return not hit if op in ("neq", "not_in") else hit

    def multi(self, op: str, value: Any, stored: set[str], fold_: bool = False) -> bool:
        norm = (lambda v: v.casefold()) if fold_ else (lambda v: v)
        if op == "is_set":
            return bool(stored)
        if op == "is_not_set":
            return not stored
        if op == "contains":
            return norm(value) in stored
        if op == "not_contains":
            return norm(value) not in stored
        if op == "contains_any":
            return any(norm(v) in stored for v in value)
        return all(norm(v) in stored for v in value)

    def custom(self, name: str, op: str, value: Any, c: dict) -> bool:
        info = self.world["custom_fields"][name]
        values = c["custom"].get(name, [])
        if info.type == "multiselect":
            return self.multi(op, value, set(values))
        stored = values[0] if values else None
        if info.type in ("text", "select"):
            return _text(op, value, stored, info.type == "select")
        if info.type == "number":
            return self.number(op, value, stored)
        if info.type == "date":
            return self.date(op, value, stored, False)
        if info.type == "boolean":
            if op == "is_set":
                return stored is not None
            if op == "is_not_set":
                return stored is None
            return (stored is True) == (op == "is_true")
        raise AssertionError(info.type)

    # ---- lists, activities, events

    def list_(self, node: dict, c: dict) -> bool:
        ref = node["list"]
        if isinstance(ref, int):
            ids = {ref}
        else:
            ids = {i for i, n in self.world["lists"].items() if fold(n) == fold(ref)}
        status = node.get("status")
        return any(
            list_id in ids and (status is None or s == status) for list_id, s in c["lists"].items()
        )

    def in_window(self, node: dict, a: dict) -> bool:
        days = node.get("within_days")
        if days is None:
            return True
        return self.now - timedelta(days=days) <= a["occurred_at"] <= self.now

    def where(self, conditions: dict, data: Any) -> bool:
        for key, cond in conditions.items():
            raw = data.get(key) if isinstance(data, dict) else None
            text = raw if isinstance(raw, str) else None
            number = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
            op, value = cond["op"], cond.get("value")
            if op == "is_set":
                ok = bool(text) or number is not None
            elif op == "is_not_set":
                ok = not (bool(text) or number is not None)
            elif op in ("gt", "gte", "lt", "lte", "between") or (
                op in ("eq", "neq") and not isinstance(value, str)
            ):
                ok = op == "neq" if number is None else compare(op, value, number)
            else:
                ok = _text(op, value, text, exact=False)
            if not ok:
                return False
        return True

    def activity(self, node: dict, c: dict) -> bool:
        n = sum(
            1
            for a in c["activities"]
            if a["kind"] == node["activity"]
            and self.in_window(node, a)
            and self.where(node.get("where") or {}, a["data"])
        )
        return compare(node["count"]["op"], node["count"]["value"], n)

    def event(self, node: dict, c: dict) -> bool:
        events = [
            a
            for a in c["activities"]
            if a["kind"] == "custom_event"
            and a["event_name"] == node["event"]
            and self.in_window(node, a)
        ]
        aggregate, op, value = node["aggregate"], node["op"], node["value"]
        if aggregate == "count":
            return compare(op, value, len(events))
        values = [a["value"] for a in events if a["value"] is not None]
        if aggregate == "sum":
            return compare(op, value, sum(values))
        if not values:
            return False
        result = {"avg": lambda v: sum(v) / len(v), "min": min, "max": max}[aggregate](values)
        return compare(op, value, result)
