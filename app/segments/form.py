"""The segment builder's form: a condition tree as indexed form fields, and back (pure).

Every node of the tree is a row named by its path from the root group: the root is
"n", its children "n-0", "n-1", theirs "n-0-0", ... A row's inputs are named
"<path>-<key>": `kind` (all, any, field, list, activity, event), `not` (checked:
the node is negated) and the leaf's own inputs:

- field: field, op, value (several for in/not_in/contains_any/contains_all), value2
  (the upper bound of "between");
- list: list, status;
- activity: activity, count_op, count_value (count_value2: upper bound of "between"),
  within_days, data_key, data_op, data_value (data_value2);
- event: event, aggregate, op, value (value2), within_days.

The form is rebuilt on the server at every step (add, remove, change of field), so
the browser never builds the tree itself. Values are converted by the field's type
and everything else is left to `app.segments.tree.parse`, whose error paths
(`all[1].any[0].op`) lead back to the row (see `error_row`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GROUP_KINDS = ("all", "any")
LEAF_KINDS = ("field", "list", "activity", "event")
KINDS = GROUP_KINDS + LEAF_KINDS
NO_VALUE_OPS = frozenset({"is_set", "is_not_set", "is_true", "is_false"})
LIST_OPS = frozenset({"in", "not_in", "contains_any", "contains_all"})
DAY_OPS = frozenset({"within_last_days", "more_than_days_ago"})
ROOT = "n"
MAX_ROWS = 500
MAX_DEPTH = 20
DEFAULT_FIELD = "email"
_NAME = re.compile(r"^(n(?:-\d{1,4})*)-([a-z_0-9]+)$")
_LEAF_KEYS = {
    "field": ("field", "op", "value", "value2"),
    "list": ("list", "status"),
    "activity": (
        "activity", "count_op", "count_value", "count_value2", "within_days", "data_key",
        "data_op", "data_value", "data_value2",
    ),
    "event": ("event", "aggregate", "op", "value", "value2", "within_days"),
}  # fmt: skip

FieldType = Callable[[str], str | None]


@dataclass
class Row:
    """One node of the builder: a group (all/any) with children, or a condition."""

    path: str = ROOT
    kind: str = "all"
    negate: bool = False
    values: dict[str, list[str]] = field(default_factory=dict)
    children: list[Row] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS

    @property
    def depth(self) -> int:
        return self.path.count("-")

    def get(self, key: str, default: str = "") -> str:
        values = self.values.get(key) or []
        return values[-1] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(self.values.get(key) or [])

    def set(self, key: str, value: str | Sequence[str] | None) -> None:
        if value is None:
            self.values.pop(key, None)
        elif isinstance(value, str):
            self.values[key] = [value]
        else:
            self.values[key] = [str(v) for v in value]

    def walk(self):
        """This row and every row under it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, path: str) -> Row | None:
        return next((r for r in self.walk() if r.path == path), None)


def new_condition(kind: str = "field") -> Row:
    """A fresh condition row of a kind, with sensible first values."""
    row = Row(kind=kind if kind in LEAF_KINDS else "field")
    if row.kind == "field":
        row.set("field", DEFAULT_FIELD)
        row.set("op", "contains")
    elif row.kind == "activity":
        row.set("activity", "email_opened")
        row.set("count_op", "gte")
        row.set("count_value", "1")
    elif row.kind == "event":
        row.set("aggregate", "count")
        row.set("op", "gte")
        row.set("value", "1")
    return row


def new_group(kind: str = "all") -> Row:
    return Row(kind=kind, children=[new_condition()])


def empty_root() -> Row:
    """The builder of a new segment: ALL of one condition."""
    return renumber(new_group("all"))


def renumber(root: Row) -> Row:
    """Give every row the path of its position (after rows were added or removed)."""

    def visit(row: Row, path: str) -> None:
        row.path = path
        for i, child in enumerate(row.children):
            visit(child, f"{path}-{i}")

    visit(root, ROOT)
    return root


# ---------------------------------------------------------------- the form


def _as_lists(form: Mapping[str, Any]) -> dict[str, list[str]]:
    """Form data as {name: [values]} (a Werkzeug MultiDict, a dict of lists or of strings)."""
    getlist = getattr(form, "getlist", None)
    out: dict[str, list[str]] = {}
    for key in form:
        if getlist is not None:
            values = getlist(key)
        else:
            raw = form[key]
            values = raw if isinstance(raw, (list, tuple)) else [raw]
        out[key] = [str(v) for v in values]
    return out


def from_form(form: Mapping[str, Any]) -> Row:
    """The builder rows posted by the form, renumbered. Unknown names are ignored, and so
    is a row whose parent is missing or not a group; past MAX_ROWS rows, the rest."""
    data = _as_lists(form)
    by_path: dict[str, dict[str, list[str]]] = {}
    for name, values in data.items():
        match = _NAME.match(name)
        if match is None:
            continue
        path, key = match.groups()
        if path.count("-") > MAX_DEPTH:
            continue
        by_path.setdefault(path, {})[key] = values
    root = _row(ROOT, by_path.get(ROOT, {}), group=True)
    rows = {ROOT: root}

    def order(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in path.split("-")[1:])

    for path in sorted((p for p in by_path if p != ROOT), key=order)[:MAX_ROWS]:
        parent = rows.get(path.rpartition("-")[0])
        if parent is None or not parent.is_group:
            continue
        row = _row(path, by_path[path])
        parent.children.append(row)
        rows[path] = row
    return renumber(root)


def _row(path: str, inputs: dict[str, list[str]], *, group: bool = False) -> Row:
    kind = (inputs.get("kind") or [""])[-1]
    if group and kind not in GROUP_KINDS:
        kind = "all"
    elif kind not in KINDS:
        kind = "field"
    row = Row(path=path, kind=kind, negate=bool([v for v in inputs.get("not") or [] if v]))
    if kind in LEAF_KINDS:
        for key in _LEAF_KEYS[kind]:
            if key in inputs:
                row.values[key] = [v.strip() for v in inputs[key]]
    return row


def to_fields(root: Row) -> dict[str, list[str]]:
    """The form fields that post these rows back (what the page's inputs hold)."""
    out: dict[str, list[str]] = {}
    for row in renumber(root).walk():
        out[f"{row.path}-kind"] = [row.kind]
        if row.negate:
            out[f"{row.path}-not"] = ["1"]
        for key, values in row.values.items():
            out[f"{row.path}-{key}"] = list(values)
    return out


# ---------------------------------------------------------------- edits


def apply(root: Row, action: str) -> Row:
    """Apply a builder button: "add-field:<path>", "add-group:<path>" (into a group; the
    new group holds one condition) or "remove:<path>" (never the root). Anything else
    (such as "refresh") changes nothing."""
    verb, _, path = action.partition(":")
    target = root.find(path)
    if target is None:
        return renumber(root)
    if verb in ("add-field", "add-list", "add-activity", "add-event") and target.is_group:
        target.children.append(new_condition(verb.partition("-")[2]))
    elif verb == "add-group" and target.is_group and target.depth < MAX_DEPTH - 1:
        target.children.append(new_group("any" if target.kind == "all" else "all"))
    elif verb == "remove" and target is not root:
        parent = root.find(path.rpartition("-")[0])
        if parent is not None:
            parent.children = [c for c in parent.children if c is not target]
    return renumber(root)


def normalise(root: Row, field_type: FieldType, operators: Mapping[str, Sequence[str]]) -> Row:
    """Make every field condition's operator one its field's type offers (the first one
    when the field changed to another type); an unknown field becomes the default one.
    A condition just switched to another kind gets that kind's first values."""
    for row in root.walk():
        first = {"activity": "count_op", "event": "aggregate"}.get(row.kind)
        if first is not None and first not in row.values:
            row.values = {**row.values, **new_condition(row.kind).values}
        if row.kind != "field":
            continue
        ftype = field_type(row.get("field"))
        if ftype is None:
            row.set("field", DEFAULT_FIELD)
            ftype = field_type(DEFAULT_FIELD)
        ops = operators.get(ftype or "", ())
        if ops and row.get("op") not in ops:
            row.set("op", ops[0])
    return root


# ---------------------------------------------------------------- rows -> tree


def _number(text: str) -> Any:
    """A number typed in a form (int when whole); the text itself when it is not one,
    so that the tree's validation names the bad value."""
    cleaned = text.strip().replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in cleaned else number


def _int(text: str) -> Any:
    value = _number(text)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _split(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(p.strip() for p in value.split(",") if p.strip())
    return list(dict.fromkeys(out))


def _field_value(row: Row, ftype: str | None) -> tuple[bool, Any]:
    """(has a value, the value) of a field condition, converted by the field's type."""
    op = row.get("op")
    if op in NO_VALUE_OPS:
        return False, None
    convert = _number if ftype == "number" else (lambda v: v)
    if op in LIST_OPS:
        return True, [convert(v) for v in _split(row.getlist("value"))]
    if op in DAY_OPS:
        return True, _int(row.get("value"))
    if op == "between":
        return True, [convert(row.get("value")), convert(row.get("value2"))]
    return True, convert(row.get("value"))


NUMBER_WHERE_OPS = frozenset({"gt", "gte", "lt", "lte", "between"})


def _bounds(row: Row, key: str, op: str, convert: Callable[[str], Any]) -> Any:
    """A number, or [low, high] for "between" (the second from `<key>2`)."""
    if op == "between":
        return [convert(row.get(key)), convert(row.get(key + "2"))]
    return convert(row.get(key))


def _where(row: Row) -> dict[str, Any]:
    """The condition on the activity's data: numbers for comparisons, text otherwise."""
    op = row.get("data_op") or "eq"
    if op in NO_VALUE_OPS:
        return {"op": op}
    if op in NUMBER_WHERE_OPS:
        return {"op": op, "value": _bounds(row, "data_value", op, _number)}
    if op in LIST_OPS:
        return {"op": op, "value": _split(row.getlist("data_value"))}
    return {"op": op, "value": row.get("data_value")}


def _leaf(row: Row, field_type: FieldType) -> dict[str, Any]:
    if row.kind == "field":
        name = row.get("field")
        node: dict[str, Any] = {"field": name, "op": row.get("op")}
        has, value = _field_value(row, field_type(name))
        if has:
            node["value"] = value
        return node
    if row.kind == "list":
        node = {"list": _int(row.get("list")) if row.get("list").isdigit() else row.get("list")}
        if row.get("status"):
            node["status"] = row.get("status")
        return node
    if row.kind == "activity":
        count_op = row.get("count_op") or "gte"
        node = {
            "activity": row.get("activity"),
            "count": {"op": count_op, "value": _bounds(row, "count_value", count_op, _int)},
        }
        if row.get("within_days"):
            node["within_days"] = _int(row.get("within_days"))
        if row.get("data_key"):
            node["where"] = {row.get("data_key"): _where(row)}
        return node
    op = row.get("op") or "gte"
    node = {
        "event": row.get("event"),
        "aggregate": row.get("aggregate") or "count",
        "op": op,
        "value": _bounds(row, "value", op, _number),
    }
    if row.get("within_days"):
        node["within_days"] = _int(row.get("within_days"))
    return node


@dataclass
class Built:
    """A tree built from rows, and which row each of its nodes came from."""

    tree: dict[str, Any]
    rows: dict[int, str]  # id(node) -> row path


def to_tree(root: Row, field_type: FieldType) -> Built:
    """The condition tree of the rows (not validated: see tree.parse)."""
    rows: dict[int, str] = {}

    def build(row: Row) -> dict[str, Any]:
        if row.is_group:
            node: dict[str, Any] = {row.kind: [build(c) for c in row.children]}
        else:
            node = _leaf(row, field_type)
        rows[id(node)] = row.path
        if row.negate:
            node = {"not": node}
            rows[id(node)] = row.path
        return node

    return Built(build(root), rows)


_STEP = re.compile(r"^([a-z_]+)(?:\[(\d+)\])?$")


def error_row(built: Built, error_path: str) -> str | None:
    """The row a tree error's path (`all[1].any[0].op`) points into: the deepest node
    the path reaches (None when it does not start at the root)."""
    node: Any = built.tree
    found = built.rows.get(id(node))
    for step in error_path.split(".") if error_path else []:
        match = _STEP.match(step.strip())
        if match is None or not isinstance(node, dict):
            break
        key, index = match.group(1), match.group(2)
        if key in GROUP_KINDS and index is not None and isinstance(node.get(key), list):
            children = node[key]
            if int(index) >= len(children):
                break
            node = children[int(index)]
        elif key == "not" and isinstance(node.get("not"), dict):
            node = node["not"]
        else:
            break
        found = built.rows.get(id(node), found)
    return found


# ---------------------------------------------------------------- tree -> rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def from_tree(tree: Any) -> Row:
    """The builder rows of a (valid) condition tree; a tree that is a single condition
    becomes ALL of that condition, and NOT of NOT cancels out."""
    root = _from_node(tree)
    if not root.is_group:
        root = Row(kind="all", children=[root])
    return renumber(root)


def _from_node(node: Any) -> Row:
    if not isinstance(node, dict):
        return new_condition()
    if "not" in node:
        row = _from_node(node["not"])
        row.negate = not row.negate
        return row
    for kind in GROUP_KINDS:
        if kind in node:
            return Row(kind=kind, children=[_from_node(c) for c in node[kind] or []])
    row = Row(kind="field")
    if "field" in node:
        row.set("field", _text(node.get("field")))
        row.set("op", _text(node.get("op")))
        value = node.get("value")
        if node.get("op") == "between" and isinstance(value, (list, tuple)) and len(value) == 2:
            row.set("value", _text(value[0]))
            row.set("value2", _text(value[1]))
        elif isinstance(value, (list, tuple)):
            row.set("value", [_text(v) for v in value])
        elif "value" in node:
            row.set("value", _text(value))
    elif "list" in node:
        row.kind = "list"
        row.set("list", _text(node.get("list")))
        row.set("status", _text(node.get("status")))
    elif "activity" in node:
        row.kind = "activity"
        row.set("activity", _text(node.get("activity")))
        count = node.get("count") or {}
        row.set("count_op", _text(count.get("op") or "gte"))
        _set_bounds(row, "count_value", count.get("value", 1))
        row.set("within_days", _text(node.get("within_days")))
        where = node.get("where") or {}
        if isinstance(where, dict) and where:
            key, cond = next(iter(where.items()))
            cond = cond if isinstance(cond, dict) else {"op": "eq", "value": cond}
            row.set("data_key", _text(key))
            row.set("data_op", _text(cond.get("op")))
            if cond.get("op") in LIST_OPS and isinstance(cond.get("value"), list):
                row.set("data_value", ", ".join(_text(v) for v in cond["value"]))
            else:
                _set_bounds(row, "data_value", cond.get("value"))
    elif "event" in node:
        row.kind = "event"
        row.set("event", _text(node.get("event")))
        row.set("aggregate", _text(node.get("aggregate") or "count"))
        row.set("op", _text(node.get("op")))
        _set_bounds(row, "value", node.get("value"))
        row.set("within_days", _text(node.get("within_days")))
    return row


def _set_bounds(row: Row, key: str, value: Any) -> None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        row.set(key, _text(value[0]))
        row.set(key + "2", _text(value[1]))
    else:
        row.set(key, _text(value))


# ---------------------------------------------------------------- inputs


SELECT_OPS = frozenset({"eq", "neq", "in", "not_in"})


def value_input(field_type: str | None, op: str, has_options: bool) -> tuple[str, bool]:
    """How a field condition's value is typed: (input, multiple). Inputs: none, text,
    number, date, days (a number of days), select (the field's options: choices, tags,
    users, companies...; for tags every operator, otherwise equality ones)."""
    if op in NO_VALUE_OPS or field_type == "boolean":
        return "none", False
    if op in DAY_OPS:
        return "days", False
    multiple = op in LIST_OPS
    if has_options and (field_type == "multi" or op in SELECT_OPS):
        return "select", multiple
    if multiple:
        return "text", True  # comma-separated
    if field_type == "date":
        return "date", False
    if field_type == "number":
        return "number", False
    return "text", False
