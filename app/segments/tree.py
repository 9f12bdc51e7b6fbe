"""Segment condition trees: parse, validate and normalise (pure: no Flask, no database).

A tree is JSON. Groups: ``{"all": [NODE, ...]}`` (every child matches; an empty one
matches every contact), ``{"any": [NODE, ...]}`` (at least one; an empty one matches
none) and ``{"not": NODE}``. Leaves:

``{"field": NAME, "op": OP, "value": V}``
    NAME is a standard field of app.contacts.fields (by name), ``"tags"`` or
    ``"custom.<name>"``. Its type (``field_type``) decides the operators
    (``FIELD_OPERATORS``) and the value:

    - text: a non-empty string; a list of them for in/not_in. eq/neq/in/not_in compare
      the stored value exactly on normalised fields (email lower-cased, phone in E.164,
      country as its ISO code, choice fields such as status by key, custom select by
      option) and case-insensitively on free text; contains/not_contains/starts_with/
      ends_with are always case-insensitive. Case folding happens in SQL (lower() on both
      sides): SQLite's lower() folds ASCII letters only, so on SQLite "É" and "é"
      differ while PostgreSQL (with a UTF-8 ctype) folds them too. "" counts as not set.
    - number: a number; ``[low, high]`` (inclusive) for between.
    - date: ``"YYYY-MM-DD"`` for before/after (strict), ``[first, last]`` (inclusive)
      for between: calendar dates in the segment's timezone (a stored datetime is
      naive UTC and is converted first). within_last_days / more_than_days_ago take a
      number of days N >= 0 and look back from `now`: a datetime matches within the
      last N*24 h (and not in the future), more than N*24 h ago; a date (birthday,
      custom date) matches from today-N to today, before today-N ("today" in the
      segment's timezone).
    - boolean (custom boolean): is_true; is_false also matches contacts without a value.
    - multi (tags, custom multi-select): a string (contains, not_contains) or a non-empty
      list of strings (contains_any, contains_all). Tags match by name, case-insensitively;
      a custom multi-select value is normalised to the spelling of its option.
    - ref (owner, company, reports_to, referred_by): an id (int), or a string: the user's
      email for owner, the company's name (case-insensitive) for company, the contact's
      email for reports_to/referred_by; a list of those for in/not_in.

    No value with is_set/is_not_set/is_true/is_false. Negative operators (neq, not_in,
    not_contains) match contacts without a value (SQL NULL is "not equal" here).
    The JSON list fields (secondary_emails, secondary_phones, comm_topics) and custom
    JSON fields cannot be used in segments.

``{"list": NAME_OR_ID, "status": "subscribed"}``
    Member of the list (by name, case-insensitive, or id) with that subscription status;
    without "status" (or "any"), with any status.

``{"activity": KIND, "count": {"op": OP, "value": N}, "within_days": D, "where": {...}}``
    The number of the contact's activities of KIND (app.timeline.models.ACTIVITY_KINDS),
    optionally only those of the last D days (from `now`, future ones excluded) and
    only those whose JSON data matches every "where" entry ``{KEY: {"op": OP, "value":
    V}}``; count defaults to gte 1. A "where" entry looks at the data's KEY: text
    operators apply to a string value, number operators (gt, gte, lt, lte, between, and
    eq/neq with a number) to a number value; anything else counts as missing.
    Count operators: eq neq gt gte lt lte between; count eq 0 matches contacts with no
    activity at all.

``{"event": NAME, "aggregate": AGG, "op": OP, "value": V, "within_days": D}``
    Custom events (kind custom_event) named NAME: AGG is count (default), sum, avg,
    min or max of their value. count and sum of no events are 0 (so "sum lt 10" matches
    contacts without events); avg, min and max need at least one event with a value.

Limits: depth MAX_DEPTH, MAX_NODES nodes, MAX_VALUES values in a list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.contacts.fields import BY_NAME, FieldError, clean_country, clean_phone
from app.i18n import N_, Message
from app.timeline.models import ACTIVITY_KINDS

MAX_DEPTH = 20
MAX_NODES = 500
MAX_VALUES = 1000
MAX_DAYS = 36_500
MAX_TEXT = 1000

TEXT_OPS = ("eq", "neq", "contains", "not_contains", "starts_with", "ends_with", "is_set",
            "is_not_set", "in", "not_in")  # fmt: skip
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set")
DATE_OPS = ("before", "after", "between", "within_last_days", "more_than_days_ago", "is_set",
            "is_not_set")  # fmt: skip
BOOLEAN_OPS = ("is_true", "is_false", "is_set", "is_not_set")
MULTI_OPS = ("contains", "not_contains", "contains_any", "contains_all", "is_set", "is_not_set")
REF_OPS = ("eq", "neq", "in", "not_in", "is_set", "is_not_set")

FIELD_OPERATORS: dict[str, tuple[str, ...]] = {
    "text": TEXT_OPS,
    "number": NUMBER_OPS,
    "date": DATE_OPS,
    "boolean": BOOLEAN_OPS,
    "multi": MULTI_OPS,
    "ref": REF_OPS,
}
COUNT_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between")
AGGREGATES = ("count", "sum", "avg", "min", "max")
WHERE_OPS = (*TEXT_OPS, "gt", "gte", "lt", "lte", "between")
LIST_STATUSES = ("subscribed", "unsubscribed", "pending")
NO_VALUE_OPS = frozenset({"is_set", "is_not_set", "is_true", "is_false"})
NEGATIVE_OPS = frozenset({"neq", "not_in", "not_contains"})

# Standard field types (FieldSpec.type) -> segment type; list-valued ones are left out.
_STANDARD_TYPES = {
    "text": "text", "url": "text", "email": "text", "phone": "text", "country": "text",
    "choice": "text", "int": "number", "date": "date", "datetime": "date", "ref": "ref",
}  # fmt: skip
_CUSTOM_TYPES = {
    "text": "text", "select": "text", "number": "number", "date": "date",
    "boolean": "boolean", "multiselect": "multi",
}  # fmt: skip
_WHERE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NODE_KINDS = ("all", "any", "not", "field", "list", "activity", "event")
_LEAF_KEYS = {
    "field": {"field", "op", "value"},
    "list": {"list", "status"},
    "activity": {"activity", "count", "within_days", "where"},
    "event": {"event", "aggregate", "op", "value", "within_days"},
}


class TreeError(ValueError):
    """An invalid tree: `path` names the bad node ("all[1].any[0].op"), `message` says why
    (a Message: English as a str, translatable with the |tr filter)."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else str(message))


@dataclass(frozen=True)
class CustomFieldType:
    """What parse and compile need of a custom field definition."""

    id: int
    type: str  # text number date boolean select multiselect json
    options: tuple[str, ...] = ()


def field_type(name: str, custom_fields: Mapping[str, CustomFieldType] = {}) -> str | None:
    """The segment type of a field name ("text", "number", "date", "boolean", "multi",
    "ref"), or None when it is unknown or cannot be used in a segment."""
    if name == "tags":
        return "multi"
    if isinstance(name, str) and name.startswith("custom."):
        info = custom_fields.get(name[7:])
        return _CUSTOM_TYPES.get(info.type) if info else None
    spec = BY_NAME.get(name) if isinstance(name, str) else None
    return _STANDARD_TYPES.get(spec.type) if spec else None


def check_timezone(name: Any, path: str = "timezone") -> str:
    """The timezone name if zoneinfo knows it; TreeError otherwise."""
    if isinstance(name, str) and name.strip():
        try:
            ZoneInfo(name.strip())
            return name.strip()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise TreeError(path, Message(N_('unknown timezone "%(name)s"'), name=str(name)))


def parse(
    data: Any,
    custom_fields: Mapping[str, CustomFieldType] = {},
    *,
    lists: Collection[str] | None = None,
) -> dict:
    """Validate a tree and return it normalised (JSON-able): values cleaned per field,
    defaults filled in. Raises TreeError with the path of the first bad node.

    `lists`, when given, are the existing list names: a list leaf naming another one is
    refused (ids are not checked)."""
    parser = _Parser(custom_fields, lists)
    return parser.node(data, "", 1)


# --------------------------------------------------------------------------- parser


def _join(path: str, key: str) -> str:
    if key.startswith("["):
        return f"{path}{key}"
    return f"{path}.{key}" if path else key


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _json_number(v: float | int) -> float | int:
    return v


class _Parser:
    def __init__(self, custom_fields: Mapping[str, CustomFieldType], lists):
        self.custom = custom_fields
        self.lists = None if lists is None else {str(n).casefold() for n in lists}
        self.nodes = 0

    def fail(self, path: str, template: str, **params: Any):
        raise TreeError(path, Message(template, **params))

    def node(self, data: Any, path: str, depth: int) -> dict:
        if depth > MAX_DEPTH:
            self.fail(path, N_("too deeply nested (at most %(n)s levels)"), n=MAX_DEPTH)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(path, N_("too many conditions (at most %(n)s)"), n=MAX_NODES)
        if not isinstance(data, dict):
            self.fail(path, N_("expected an object"))
        kinds = [k for k in _NODE_KINDS if k in data]
        if not kinds:
            self.fail(
                path,
                N_("expected one of %(keys)s"),
                keys=", ".join(f'"{k}"' for k in _NODE_KINDS),
            )
        if len(kinds) > 1:
            self.fail(path, N_('"%(a)s" and "%(b)s" cannot be combined'), a=kinds[0], b=kinds[1])
        kind = kinds[0]
        allowed = _LEAF_KEYS.get(kind, {kind})
        for key in data:
            if key not in allowed:
                self.fail(_join(path, str(key)), N_('unknown key "%(key)s"'), key=key)
        if kind in ("all", "any"):
            children = data[kind]
            if not isinstance(children, list):
                self.fail(_join(path, kind), N_("expected a list of conditions"))
            return {
                kind: [
                    self.node(child, _join(path, f"{kind}[{i}]"), depth + 1)
                    for i, child in enumerate(children)
                ]
            }
        if kind == "not":
            return {"not": self.node(data["not"], _join(path, "not"), depth + 1)}
        return getattr(self, f"leaf_{kind}")(data, path)

    # ---- field leaves

    def leaf_field(self, data: dict, path: str) -> dict:
        name = data["field"]
        ftype = field_type(name, self.custom) if isinstance(name, str) else None
        if ftype is None:
            if isinstance(name, str) and name.startswith("custom."):
                if name[7:] in self.custom:
                    self.fail(
                        _join(path, "field"),
                        N_('custom field "%(name)s" cannot be used in a segment'),
                        name=name[7:],
                    )
                self.fail(
                    _join(path, "field"), N_('unknown custom field "%(name)s"'), name=name[7:]
                )
            self.fail(_join(path, "field"), N_('unknown field "%(name)s"'), name=str(name))
        op = data.get("op")
        ops = FIELD_OPERATORS[ftype]
        self.check_op(op, ops, _join(path, "op"), ftype)
        out: dict[str, Any] = {"field": name, "op": op}
        vpath = _join(path, "value")
        if op in NO_VALUE_OPS:
            return out
        if "value" not in data:
            self.fail(vpath, N_("a value is required"))
        out["value"] = self.field_value(name, ftype, op, data["value"], vpath)
        return out

    def check_op(self, op: Any, ops: tuple[str, ...], path: str, ftype: str | None = None):
        if not isinstance(op, str):
            self.fail(path, N_("an operator is required"))
        if op in ops:
            return
        known = set().union(*FIELD_OPERATORS.values(), COUNT_OPS, WHERE_OPS)
        if op in known and ftype:
            self.fail(
                path,
                N_('operator "%(op)s" does not apply to a %(type)s field'),
                op=op,
                type=ftype,
            )
        if op in known:
            self.fail(path, N_('operator "%(op)s" does not apply here'), op=op)
        self.fail(path, N_('unknown operator "%(op)s"'), op=op)

    def field_value(self, name: str, ftype: str, op: str, value: Any, path: str) -> Any:
        if ftype == "text":
            if op in ("in", "not_in"):
                return self.many(value, path, lambda v, p: self.text(name, op, v, p))
            return self.text(name, op, value, path)
        if ftype == "number":
            if op == "between":
                return self.pair(value, path, self.number)
            return self.number(value, path)
        if ftype == "date":
            if op in ("within_last_days", "more_than_days_ago"):
                return self.days(value, path)
            if op == "between":
                return self.pair(value, path, self.date)
            return self.date(value, path)
        if ftype == "multi":
            item = self.plain_text
            if name.startswith("custom."):  # a multi-select option, in its stored spelling
                options = {o.casefold(): o for o in self.custom[name[7:]].options}

                def item(v: Any, p: str) -> str:
                    text = self.plain_text(v, p)
                    return options.get(text.casefold(), text)

            if op in ("contains_any", "contains_all"):
                return self.many(value, path, item)
            return item(value, path)
        if ftype == "ref":
            if op in ("in", "not_in"):
                return self.many(value, path, lambda v, p: self.ref(name, v, p))
            return self.ref(name, value, path)
        raise AssertionError(ftype)  # pragma: no cover

    def plain_text(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            self.fail(path, N_("expected text"))
        text = value.strip()
        if not text:
            self.fail(path, N_("expected non-empty text (use is_not_set for empty values)"))
        if len(text) > MAX_TEXT:
            self.fail(path, N_("too long (at most %(n)s characters)"), n=MAX_TEXT)
        return text

    def text(self, name: str, op: str, value: Any, path: str) -> str:
        if _is_number(value) and not isinstance(value, float):
            value = str(value)
        text = self.plain_text(value, path)
        if op not in ("eq", "neq", "in", "not_in"):
            return text
        # Exact comparisons on normalised fields: normalise the value the same way.
        if name.startswith("custom."):
            info = self.custom[name[7:]]
            options = {o.casefold(): o for o in info.options}
            return options.get(text.casefold(), text) if info.type == "select" else text
        spec = BY_NAME[name]
        try:
            if spec.type == "email":
                return text.lower()
            if spec.type == "country":
                return clean_country(text, name)
            if spec.type == "phone":
                return clean_phone(text, None, name)
        except FieldError as exc:
            raise TreeError(path, exc.message) from None
        if spec.type == "choice":
            choices = spec.choices or {}
            if text in choices:
                return text
            by_label = {str(label).casefold(): k for k, label in choices.items()}
            key = by_label.get(text.casefold()) or (
                text.casefold() if text.casefold() in choices else None
            )
            if key is None:
                self.fail(path, N_("choose one of: %(choices)s"), choices=", ".join(choices))
            return key
        return text

    def number(self, value: Any, path: str) -> float | int:
        if not _is_number(value):
            self.fail(path, N_("expected a number"))
        return value

    def days(self, value: Any, path: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DAYS:
            self.fail(path, N_("expected a number of days from 0 to %(n)s"), n=MAX_DAYS)
        return value

    def date(self, value: Any, path: str) -> str:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        self.fail(path, N_("expected a date such as 2024-03-31"))

    def pair(self, value: Any, path: str, item) -> list:
        if not isinstance(value, list) or len(value) != 2:
            self.fail(path, N_("expected a list of two values [from, to]"))
        low, high = item(value[0], f"{path}[0]"), item(value[1], f"{path}[1]")
        if low > high:
            self.fail(path, N_("the first value is after the second"))
        return [low, high]

    def many(self, value: Any, path: str, item) -> list:
        if not isinstance(value, list) or not value:
            self.fail(path, N_("expected a non-empty list"))
        if len(value) > MAX_VALUES:
            self.fail(path, N_("too many values (at most %(n)s)"), n=MAX_VALUES)
        out = [item(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return list(dict.fromkeys(out))

    def ref(self, name: str, value: Any, path: str) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                self.fail(path, N_("expected an id"))
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        if name == "company":
            return self.plain_text(value, path)
        if isinstance(value, str) and "@" in value:
            return value.strip().lower()
        self.fail(
            path,
            N_("expected a company id or name")
            if name == "company"
            else N_("expected an id or an email address"),
        )

    # ---- other leaves

    def leaf_list(self, data: dict, path: str) -> dict:
        lpath = _join(path, "list")
        ref = data["list"]
        if isinstance(ref, int) and not isinstance(ref, bool) and ref > 0:
            out: dict[str, Any] = {"list": ref}
        elif isinstance(ref, str) and ref.strip():
            name = ref.strip()
            if self.lists is not None and name.casefold() not in self.lists:
                self.fail(lpath, N_('unknown list "%(name)s"'), name=name)
            out = {"list": name}
        else:
            self.fail(lpath, N_("expected a list name or id"))
        status = data.get("status", "any")
        if status is None:
            status = "any"
        if status != "any" and status not in LIST_STATUSES:
            self.fail(
                _join(path, "status"),
                N_("expected one of: %(choices)s"),
                choices=", ".join(("any", *LIST_STATUSES)),
            )
        if status != "any":
            out["status"] = status
        return out

    def window(self, data: dict, path: str, out: dict) -> None:
        if data.get("within_days") is not None:
            days = self.days(data["within_days"], _join(path, "within_days"))
            out["within_days"] = days

    def count_cond(self, op: Any, value: Any, path: str, *, integer: bool) -> tuple[str, Any]:
        self.check_op(op, COUNT_OPS, _join(path, "op"))
        vpath = _join(path, "value")

        def one(v: Any, p: str) -> Any:
            if integer:
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    self.fail(p, N_("expected a whole number >= 0"))
                return v
            return self.number(v, p)

        if op == "between":
            return op, self.pair(value, vpath, one)
        return op, one(value, vpath)

    def leaf_activity(self, data: dict, path: str) -> dict:
        kind = data["activity"]
        if kind not in ACTIVITY_KINDS:
            self.fail(
                _join(path, "activity"), N_('unknown activity kind "%(kind)s"'), kind=str(kind)
            )
        out: dict[str, Any] = {"activity": kind}
        count = data.get("count")
        cpath = _join(path, "count")
        if count is None:
            count = {"op": "gte", "value": 1}
        if not isinstance(count, dict):
            self.fail(cpath, N_("expected an object"))
        for key in count:
            if key not in ("op", "value"):
                self.fail(_join(cpath, str(key)), N_('unknown key "%(key)s"'), key=key)
        op, value = self.count_cond(count.get("op"), count.get("value"), cpath, integer=True)
        out["count"] = {"op": op, "value": value}
        self.window(data, path, out)
        where = data.get("where")
        if where is not None:
            wpath = _join(path, "where")
            if not isinstance(where, dict):
                self.fail(wpath, N_("expected an object"))
            if len(where) > 20:
                self.fail(wpath, N_("too many conditions (at most %(n)s)"), n=20)
            clean = {}
            for key, cond in where.items():
                clean[key] = self.where_cond(key, cond, _join(wpath, str(key)))
            if clean:
                out["where"] = clean
        return out

    def where_cond(self, key: Any, cond: Any, path: str) -> dict:
        if not isinstance(key, str) or not _WHERE_KEY.match(key):
            self.fail(path, N_("invalid data key (letters, digits and _ only)"))
        if not isinstance(cond, dict):
            self.fail(path, N_("expected an object with op and value"))
        for k in cond:
            if k not in ("op", "value"):
                self.fail(_join(path, str(k)), N_('unknown key "%(key)s"'), key=k)
        op = cond.get("op")
        self.check_op(op, WHERE_OPS, _join(path, "op"))
        if op in NO_VALUE_OPS:
            return {"op": op}
        vpath = _join(path, "value")
        if "value" not in cond:
            self.fail(vpath, N_("a value is required"))
        value = cond["value"]
        if op in ("gt", "gte", "lt", "lte"):
            return {"op": op, "value": self.number(value, vpath)}
        if op == "between":
            return {"op": op, "value": self.pair(value, vpath, self.number)}
        if op in ("eq", "neq") and _is_number(value):
            return {"op": op, "value": value}
        if op in ("in", "not_in"):
            return {"op": op, "value": self.many(value, vpath, self.plain_text)}
        return {"op": op, "value": self.plain_text(value, vpath)}

    def leaf_event(self, data: dict, path: str) -> dict:
        name = data["event"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            self.fail(_join(path, "event"), N_("expected an event name (at most 100 characters)"))
        aggregate = data.get("aggregate") or "count"
        if aggregate not in AGGREGATES:
            self.fail(
                _join(path, "aggregate"),
                N_("expected one of: %(choices)s"),
                choices=", ".join(AGGREGATES),
            )
        op, value = self.count_cond(
            data.get("op"), data.get("value"), path, integer=aggregate == "count"
        )
        out: dict[str, Any] = {
            "event": name.strip(),
            "aggregate": aggregate,
            "op": op,
            "value": value,
        }
        self.window(data, path, out)
        return out
