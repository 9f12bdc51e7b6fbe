"""The rule form: posted fields <-> the rule data the service validates (pure).

A field rule's condition is edited either as one condition row, named like a segment
builder row ("n-0-kind", "n-0-field", "n-0-op", "n-0-value", "n-0-value2", "n-0-list",
"n-0-status", "n-0-not": see app.segments.form), or as a JSON condition tree (mode
"json": any tree app.segments.tree accepts, groups included). A stored condition that
is not one field or list condition opens in JSON mode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.i18n import N_, Message
from app.segments import form as segform

SIMPLE_KINDS = ("field", "list")
ACTIVITY_INPUTS = ("activity_kind", "event_name", "within_days", "max_count", "decay_days")
DEFAULT_ACTIVITY = {"activity_kind": "email_opened", "within_days": "30", "max_count": "1"}


@dataclass
class RuleForm:
    """What the rule form shows and posts."""

    name: str = ""
    kind: str = "field"
    points: str = ""
    enabled: bool = True
    mode: str = "simple"  # simple | json
    root: segform.Row = field(default_factory=lambda: _root(segform.new_condition("field")))
    condition_json: str = ""
    activity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIVITY))
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def row(self) -> segform.Row:
        """The one condition row of simple mode."""
        return self.root.children[0]


def _root(row: segform.Row) -> segform.Row:
    return segform.renumber(segform.Row(kind="all", children=[row]))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def is_simple(condition: Any) -> bool:
    """Whether a condition is one field or list condition (possibly negated)."""
    node = condition
    if isinstance(node, dict) and set(node) == {"not"}:
        node = node["not"]
    return isinstance(node, dict) and ("field" in node or "list" in node)


def from_rule(values: Mapping[str, Any]) -> RuleForm:
    """The form of a stored rule (its values under rules.KEYS)."""
    out = RuleForm(
        name=_text(values.get("name")),
        kind=values.get("kind") or "field",
        points=_text(values.get("points")),
        enabled=bool(values.get("enabled", True)),
    )
    condition = values.get("condition")
    if out.kind == "field" and condition:
        if is_simple(condition):
            out.root = segform.from_tree(condition)
        else:
            out.mode = "json"
            out.condition_json = json.dumps(condition, indent=2, ensure_ascii=False)
    if out.kind == "activity":
        out.activity = {key: _text(values.get(key)) for key in ACTIVITY_INPUTS}
        if out.activity["max_count"] in ("", "None"):
            out.activity["max_count"] = "1"
    return out


def from_post(form: Mapping[str, Any]) -> RuleForm:
    """The form as posted (a Werkzeug MultiDict or a plain dict)."""

    def get(key: str, default: str = "") -> str:
        value = form.get(key, default)
        return value.strip() if isinstance(value, str) else default

    out = RuleForm(
        name=get("name"),
        kind=get("kind") if get("kind") in ("field", "activity") else "field",
        points=get("points"),
        enabled=get("enabled") in ("1", "on", "true"),
        mode="json" if get("mode") == "json" else "simple",
        condition_json=str(form.get("condition_json", "") or ""),
    )
    root = segform.from_form(form)
    leaves = [r for r in root.children if r.kind in SIMPLE_KINDS]
    out.root = _root(leaves[0] if leaves else segform.new_condition("field"))
    if out.row.kind not in SIMPLE_KINDS:
        out.root = _root(segform.new_condition("field"))
    if any(key in form for key in ACTIVITY_INPUTS):
        out.activity = {key: get(key) for key in ACTIVITY_INPUTS}
    return out


def switch_mode(rule_form: RuleForm, previous: str, field_type: Callable[[str], str | None]):
    """Carry the condition over when the mode changed: simple -> JSON writes the row as
    JSON; JSON -> simple takes the tree when it is one condition (else stays JSON,
    with a message)."""
    if previous == rule_form.mode:
        return
    if rule_form.mode == "json":
        tree = condition_of_row(rule_form, field_type)
        rule_form.condition_json = json.dumps(tree, indent=2, ensure_ascii=False)
        return
    try:
        tree = json.loads(rule_form.condition_json or "null")
    except ValueError:
        tree = None
    if tree is None:
        return
    if is_simple(tree):
        rule_form.root = segform.from_tree(tree)
    else:
        rule_form.mode = "json"
        rule_form.errors["condition"] = N_(
            "This condition has several parts: it can only be edited as JSON."
        )


def condition_of_row(rule_form: RuleForm, field_type: Callable[[str], str | None]) -> dict:
    """The condition tree of the simple row (a leaf, or {"not": leaf})."""
    built = segform.to_tree(rule_form.root, field_type)
    children = built.tree.get("all") or [{}]
    return children[0]


def to_data(rule_form: RuleForm, field_type: Callable[[str], str | None]) -> dict[str, Any]:
    """The rule data to validate (rules.clean_rule keys). Raises ValueError(message) when
    the JSON condition cannot be read."""
    data: dict[str, Any] = {
        "name": rule_form.name,
        "kind": rule_form.kind,
        "points": rule_form.points,
        "enabled": rule_form.enabled,
    }
    if rule_form.kind == "field":
        if rule_form.mode == "json":
            try:
                data["condition"] = json.loads(rule_form.condition_json)
            except ValueError as exc:
                raise ValueError(
                    Message(N_("The condition is not valid JSON: %(error)s"), error=str(exc))
                ) from None
        else:
            data["condition"] = condition_of_row(rule_form, field_type)
    else:
        for key in ACTIVITY_INPUTS:
            value = rule_form.activity.get(key, "")
            data[key] = value or None
        if data.get("activity_kind") != "custom_event":
            data["event_name"] = None
    return data
