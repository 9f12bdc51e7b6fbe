"""What the contact list shows: its columns, which are chosen, how headers sort,
and the page's URL state (pure: no Flask, no database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.contacts.fields import BY_NAME
from app.contacts.query import DEFAULT_SORT, ContactQuery, CustomFieldInfo, to_args
from app.i18n import N_

PREV_STACK = 20


@dataclass(frozen=True)
class Column:
    """A list column: `kind` says how a cell is drawn, `sort` how its header sorts."""

    key: str
    label: str
    kind: str  # field, company, owner, tags, custom
    sort: str | None = None
    field_type: str = "text"


STANDARD = (
    "email", "company", "job_title", "department", "status", "lifecycle", "role", "owner",
    "tags", "lead_score", "source", "phone", "mobile_phone", "city", "country",
    "consent_status", "created_at", "updated_at", "last_contacted_at", "last_activity_at",
)  # fmt: skip
DEFAULT_COLUMNS = ("email", "company", "status", "owner", "tags", "lead_score", "created_at")
SORTABLE_CUSTOM = ("text", "number", "date", "boolean", "select")


def available_columns(custom_fields: Sequence[CustomFieldInfo] = ()) -> dict[str, Column]:
    """Every column a user can show, by key, standard fields first."""
    out: dict[str, Column] = {}
    for key in STANDARD:
        if key == "tags":
            out[key] = Column(key, N_("Tags"), "tags")
            continue
        spec = BY_NAME[key]
        kind = {"company": "company", "owner": "owner"}.get(key, "field")
        out[key] = Column(key, spec.label, kind, key if spec.sortable else None, spec.type)
    for info in custom_fields:
        key = f"cf.{info.name}"
        sort = key if info.type in SORTABLE_CUSTOM else None
        out[key] = Column(key, info.label or info.name, "custom", sort, info.type)
    return out


def choose_columns(
    requested: Sequence[str] | None,
    remembered: Sequence[str] | None,
    available: Mapping[str, Column],
) -> tuple[list[str], list[str]]:
    """The columns to show (URL first, then the session, then the defaults) and the
    unknown names that were asked for in the URL."""
    unknown: list[str] = []
    if requested is not None:
        names: list[str] = []
        for value in requested:
            names.extend(v.strip() for v in value.split(",") if v.strip())
        chosen = [n for n in dict.fromkeys(names) if n in available]
        unknown = [n for n in dict.fromkeys(names) if n not in available and n != "name"]
        return chosen, unknown
    if remembered:
        chosen = [n for n in remembered if n in available]
        if chosen:
            return chosen, []
    return [n for n in DEFAULT_COLUMNS if n in available], []


def header_sort(current: str, column_sort: str, field_type: str) -> str:
    """The sort a column header links to: toggles when it is the current sort;
    dates start newest first, everything else A to Z."""
    if current == column_sort:
        return "-" + column_sort
    if current == "-" + column_sort:
        return column_sort
    return "-" + column_sort if field_type in ("datetime", "date") else column_sort


def page_state(
    cq: ContactQuery,
    *,
    cols: Sequence[str] | None,
    default_limit: int,
    prev: Sequence[str] = (),
) -> dict[str, Any]:
    """URL arguments that reproduce the page as shown (filters, sort, columns, page)."""
    state = to_args(cq)
    if cols is not None:
        state["cols"] = ",".join(["name", *cols])
    if cq.limit != default_limit:
        state["limit"] = cq.limit
    if cq.cursor:
        state["cursor"] = cq.cursor
        if prev:
            state["_prev"] = list(prev)
    return state


def next_page_state(state: Mapping[str, Any], next_cursor: str) -> dict[str, Any]:
    """The state of the following page: the current cursor joins the back stack."""
    prev = list(state.get("_prev") or [])
    prev.append(state.get("cursor") or "first")
    return {**state, "cursor": next_cursor, "_prev": prev[-PREV_STACK:]}


def previous_page_state(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The state of the page before, or None on the first page (or with no stack)."""
    if not state.get("cursor"):
        return None
    prev = list(state.get("_prev") or [])
    out = {k: v for k, v in state.items() if k not in ("cursor", "_prev")}
    if not prev:
        return out
    cursor = prev.pop()
    if cursor != "first":
        out["cursor"] = cursor
        if prev:
            out["_prev"] = prev
    return out


def first_page_state(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("cursor", "_prev")}


def sorted_state(state: Mapping[str, Any], sort: str) -> dict[str, Any]:
    out = first_page_state(state)
    if sort == DEFAULT_SORT:
        out.pop("sort", None)
    else:
        out["sort"] = sort
    return out
