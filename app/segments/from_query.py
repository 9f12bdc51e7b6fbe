"""The contact list's filter as a condition tree: "save current filter as segment" (pure).

Every filter of the list has an equivalent condition. The search box is the one
thing a tree says differently: the list finds words by their start, accents and
case ignored, in names, emails and the company; the tree keeps "name or email
contains each word", and the builder says so. What is not a filter (the ticked
rows, archived contacts, the sort, the page) is left out with a notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from app.contacts.query import DATE_RANGES, ContactQuery
from app.i18n import N_, Message

SEARCH_FIELDS = ("first_name", "last_name", "email")


def _dates(name: str, lo: date | None, hi: date | None) -> list[dict[str, Any]]:
    """Whole days from `lo` to `hi`, both included, as the list's date filters (a tree's
    before/after are strict, its between inclusive)."""
    if lo and hi:
        return [{"field": name, "op": "between", "value": [lo.isoformat(), hi.isoformat()]}]
    if lo:
        return [{"field": name, "op": "after", "value": (lo - timedelta(days=1)).isoformat()}]
    if hi:
        return [{"field": name, "op": "before", "value": (hi + timedelta(days=1)).isoformat()}]
    return []


def _custom(cf) -> list[dict[str, Any]]:
    name = f"custom.{cf.field.name}"
    values = [v.isoformat() if isinstance(v, date) else v for v in cf.values]
    ftype = cf.field.type
    if ftype == "boolean":
        return [{"field": name, "op": "is_true" if values[-1] else "is_false"}]
    if cf.op == "eq":
        if ftype == "multiselect":
            return [{"field": name, "op": "contains_any", "value": values}]
        if ftype in ("text", "select"):
            if len(values) == 1:
                return [{"field": name, "op": "eq", "value": values[0]}]
            return [{"field": name, "op": "in", "value": values}]
        if len(values) == 1:
            return [{"field": name, "op": "eq", "value": values[0]}]
        return [{"any": [{"field": name, "op": "eq", "value": v} for v in values]}]
    if ftype == "date":
        lo, hi = (cf.values[-1], None) if cf.op == "from" else (None, cf.values[-1])
        return _dates(name, lo, hi)
    return [
        {"field": name, "op": "gte" if cf.op in ("min", "from") else "lte", "value": values[-1]}
    ]


def from_query(
    cq: ContactQuery,
    *,
    list_names: Mapping[int, str] | None = None,
    segment_tree: Any = None,
) -> tuple[dict[str, Any], list[str]]:
    """The tree (ALL of the list's filters) and notices for what it could not keep.

    `list_names` (the lists by id), when given, tells whether the list of a `list`
    filter still exists; `segment_tree` is the definition of the segment the list was
    narrowed to, kept as one more condition.
    """
    notices: list[str] = []
    conditions: list[dict[str, Any]] = []
    if cq.q:
        terms = [t for t in cq.q.split() if t]
        for term in terms:
            conditions.append(
                {"any": [{"field": f, "op": "contains", "value": term} for f in SEARCH_FIELDS]}
            )
        notices.append(
            Message(
                N_(
                    'The search "%(q)s" became "first name, last name or email contains"'
                    " conditions: unlike the search box, they do not ignore accents and"
                    " do not look at the company."
                ),
                q=cq.q,
            )
        )
    if cq.statuses:
        conditions.append({"field": "status", "op": "in", "value": list(cq.statuses)})
    for tag in cq.tags:
        conditions.append({"field": "tags", "op": "contains", "value": tag})
    if cq.company_id is not None:
        conditions.append({"field": "company", "op": "eq", "value": cq.company_id})
    if cq.owner == "none":
        conditions.append({"field": "owner", "op": "is_not_set"})
    elif cq.owner is not None:
        conditions.append({"field": "owner", "op": "eq", "value": cq.owner})
    if cq.source:
        conditions.append({"field": "source", "op": "eq", "value": cq.source})
    if cq.score_min is not None and cq.score_max is not None:
        conditions.append(
            {"field": "lead_score", "op": "between", "value": [cq.score_min, cq.score_max]}
        )
    elif cq.score_min is not None:
        conditions.append({"field": "lead_score", "op": "gte", "value": cq.score_min})
    elif cq.score_max is not None:
        conditions.append({"field": "lead_score", "op": "lte", "value": cq.score_max})
    if cq.consent:
        conditions.append({"field": "consent_status", "op": "in", "value": list(cq.consent)})
    for prefix, (lo, hi) in cq.dates.items():
        conditions.extend(_dates(DATE_RANGES[prefix], lo, hi))
    if cq.list_id is not None:
        if list_names is not None and cq.list_id not in list_names:
            notices.append(N_("The list filter was left out: that list no longer exists."))
        else:
            conditions.append({"list": cq.list_id})
    for cf in cq.custom:
        conditions.extend(_custom(cf))
    if segment_tree:
        conditions.append(segment_tree)
    if cq.ids:
        notices.append(N_("The ticked contacts were left out: a segment is made of conditions."))
    if cq.archived != "hide":
        notices.append(N_("Archived contacts were left out: a segment never includes them."))
    return {"all": conditions}, notices
