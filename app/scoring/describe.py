"""Rules in words for the rules page ("Country is FR and not Tags contains vip",
"Email opened in the last 30 days, per activity, up to 3, halves every 7 days")."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.companies.models import Company
from app.contacts.fields import BY_NAME
from app.contacts.routes import KIND_LABELS
from app.extensions import db
from app.lists.service import STATUS_LABELS
from app.scoring import rules as scoring
from app.scoring.models import ScoringRule
from app.segments.routes import OP_LABELS


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


_REF_NAMES = {"owner": (User, "email"), "company": (Company, "name")}


def _ref_names(rules: list[ScoringRule]) -> dict[str, dict[int, str]]:
    """Names of the users and companies the rules' conditions name by id."""
    wanted: dict[str, set[int]] = {name: set() for name in _REF_NAMES}
    for rule in rules:
        for node in scoring.walk_tree(rule.condition):
            if node.get("field") in wanted:
                values = node.get("value")
                for v in values if isinstance(values, list) else [values]:
                    if isinstance(v, int) and not isinstance(v, bool):
                        wanted[node["field"]].add(v)
    out: dict[str, dict[int, str]] = {}
    for name, ids in wanted.items():
        model, column = _REF_NAMES[name]
        if ids:
            rows = db.session.execute(
                select(model.id, getattr(model, column)).where(model.id.in_(ids))
            )
            out[name] = {rid: label for rid, label in rows}
    return out


def describe_condition(node: Any, names: dict[str, dict[int, str]] | None = None) -> str:
    """A condition tree in words ("Country is FR and not Tags contains vip"); `names`
    turns user and company ids into their email and name."""
    names = names or {}
    if not isinstance(node, dict):
        return ""
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        parts = [describe_condition(child, names) for child in node[key]]
        word = _("and") if key == "all" else _("or")
        joiner = f" {word} "
        text = joiner.join(parts)
        return f"({text})" if len(parts) > 1 else text
    if "not" in node:
        negation = _("not")
        return f"{negation} {describe_condition(node['not'], names)}"
    if "field" in node:
        name = str(node["field"])
        spec = BY_NAME.get(name)
        label = _(spec.label) if spec else (_("Tags") if name == "tags" else name)
        op = _(OP_LABELS.get(node.get("op"), node.get("op") or ""))
        if "value" not in node:
            return f"{label} {op}"
        value = node["value"]
        known = names.get(name, {})
        if known:
            values = value if isinstance(value, list) else [value]
            value = [known.get(v, v) if isinstance(v, int) else v for v in values]
        return f"{label} {op} {_value_text(value)}"
    if "list" in node:
        text = _("on the list %(name)s", name=node["list"])
        if node.get("status"):
            text += f" ({_(STATUS_LABELS.get(node['status'], node['status']))})"
        return text
    if "activity" in node:
        count = node.get("count") or {}
        text = _(
            "%(kind)s: %(op)s %(n)s",
            kind=_(KIND_LABELS.get(node["activity"], node["activity"])),
            op=count.get("op", "gte"),
            n=_value_text(count.get("value", 1)),
        )
    else:
        text = _(
            "event %(name)s: %(aggregate)s %(op)s %(n)s",
            name=node.get("event"),
            aggregate=node.get("aggregate", "count"),
            op=node.get("op"),
            n=_value_text(node.get("value")),
        )
    if node.get("within_days") is not None:
        text += " " + _("in the last %(days)s days", days=node["within_days"])
    return text


def describe_rule(rule: ScoringRule, names: dict[str, dict[int, str]] | None = None) -> str:
    """A one-line description of what a rule looks at."""
    if rule.kind == "field":
        return describe_condition(rule.condition, names)
    label = _(KIND_LABELS.get(rule.activity_kind or "", rule.activity_kind or ""))
    if rule.activity_kind == "custom_event" and rule.event_name:
        label = f"{label} “{rule.event_name}”"
    parts = [_("%(kind)s in the last %(days)s days", kind=label, days=rule.within_days)]
    if (rule.max_count or 1) > 1:
        parts.append(_("per activity, up to %(n)s", n=rule.max_count))
    if rule.decay_days:
        parts.append(_("halves every %(n)s days", n=rule.decay_days))
    return ", ".join(parts)


def describe_rules(rows: list[ScoringRule]) -> dict[int, str]:
    """Each rule's description by id."""
    names = _ref_names(rows)
    return {r.id: describe_rule(r, names) for r in rows}
