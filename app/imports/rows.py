"""Turn one file row into validated contact values, following the mapping (pure).

A Plan is built once per import from the mapping, the custom field definitions
and the options; `prepare(plan, cells)` then checks one row with the same
validators the contact form and the API use. Empty cells are "not given": an
import never clears a value that the file leaves blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.contacts.custom import clean_custom
from app.contacts.fields import BY_NAME, FieldError, FieldSpec, clean_country, clean_value
from app.i18n import N_, Message

# What an export neutralised against formula injection ("'=1+2") comes back as it was.
_NEUTRALISED = re.compile(r"^'(?=[=+\-@\t\r])")
# Reference fields hold a name or an email in the file; the engine resolves them per batch.
REFS = {"company": "company", "owner": "owner", "reports_to": "contact", "referred_by": "contact"}
SPLIT = re.compile(r"\s*[,;]\s*")


@dataclass(frozen=True)
class CustomDef:
    id: int
    name: str
    type: str
    options: list | None


@dataclass
class Plan:
    """How to read each mapped column; built once per import."""

    columns: list[tuple[int, str]]  # (column index, target key) for mapped columns
    ncols: int
    custom: dict[str, CustomDef]
    region: str | None = None  # default phone region (KONTOR_PHONE_REGION)
    country_col: int | None = None


@dataclass
class Prepared:
    """One row's validated values; `rows` lists the file rows merged into it."""

    email: str
    values: dict[str, Any] = field(default_factory=dict)  # contact column -> value
    refs: dict[str, str] = field(default_factory=dict)  # company/owner/reports_to/... -> text
    tags: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    custom: dict[str, list[Any]] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)

    def merge(self, later: Prepared) -> None:
        """Fold a later row with the same email into this one (its values win)."""
        self.values.update(later.values)
        self.refs.update(later.refs)
        self.custom.update(later.custom)
        self.tags = list(dict.fromkeys([*self.tags, *later.tags]))
        self.lists = list(dict.fromkeys([*self.lists, *later.lists]))
        self.rows.extend(later.rows)


def make_plan(
    mapping: list[str], ncols: int, custom: dict[str, CustomDef], region: str | None
) -> Plan:
    """The reading plan for a mapping (a target key per column, "" ignores it)."""
    columns = [(i, t) for i, t in enumerate(mapping) if t]
    country_col = next((i for i, t in columns if t == "country"), None)
    return Plan(columns=columns, ncols=ncols, custom=custom, region=region, country_col=country_col)


def unneutralise(text: str) -> str:
    """Undo the quote an export puts before a cell starting with = + - @ tab or CR."""
    return _NEUTRALISED.sub("", text, count=1)


def _region(plan: Plan, cells: list[str]) -> str | None:
    if plan.country_col is not None and plan.country_col < len(cells):
        raw = cells[plan.country_col].strip()
        if raw:
            try:
                return clean_country(raw)
            except FieldError:
                return plan.region
    return plan.region


def _split(text: str) -> list[str]:
    return [t for t in SPLIT.split(text) if t]


def prepare(plan: Plan, cells: list[str]) -> tuple[Prepared | None, dict[str, str]]:
    """Validate one row: (prepared values, {}) or (None, {field: message})."""
    errors: dict[str, str] = {}
    if not cells:
        return None, {"": N_("This entry could not be read.")}
    if len(cells) > plan.ncols and any(c.strip() for c in cells[plan.ncols :]):
        return None, {
            "": Message(
                N_("This row has %(cells)s cells but the header has %(columns)s."),
                cells=len(cells),
                columns=plan.ncols,
            )
        }
    region = None
    out = Prepared(email="")
    for index, target in plan.columns:
        raw = cells[index] if index < len(cells) else ""
        text = unneutralise(raw.strip())
        if not text:
            continue
        if target == "tags":
            out.tags.extend(t[:100] for t in _split(text))
            continue
        if target == "lists":
            out.lists.extend(t[:200] for t in _split(text))
            continue
        if target.startswith("custom."):
            d = plan.custom.get(target[7:])
            if d is None:
                continue
            try:
                out.custom[d.name] = clean_custom(d.name, d.type, d.options, text)
            except FieldError as exc:
                errors[target] = exc.message
            continue
        spec: FieldSpec | None = BY_NAME.get(target)
        if spec is None or not spec.editable:
            continue
        if target in REFS:
            limit = 300 if target == "company" else 320
            if len(text) > limit:
                errors[target] = Message(N_("Too long (at most %(n)s characters)."), n=limit)
            else:
                out.refs[target] = text
            continue
        if spec.type in ("phone", "phones") and region is None:
            region = _region(plan, cells) or ""
        try:
            value = clean_value(spec, text, region=region or None)
        except FieldError as exc:
            errors[target] = exc.message
            continue
        if target == "email":
            out.email = value
        else:
            out.values[spec.db_column] = value
    if not out.email and "email" not in errors:
        errors["email"] = N_("No email address: contacts are matched by email.")
    if errors:
        return None, errors
    return out, {}


def reason(errors: dict[str, str]) -> str:
    """The errors of a row as one line of English ("email: Not a valid email ...")."""
    return "; ".join(f"{k}: {v}" if k else str(v) for k, v in errors.items())
