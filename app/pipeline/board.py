"""What the board and the deals list read: filters from URL arguments, the first cards of
every column in one query, the next cards of one column (keyset on (position, id)),
column totals in one grouped query, and the sorted, paged deals list. No Flask import.

Totals are a count and, per currency, a sum of values: deals in different currencies are
never converted or added together (a column shows "€12,000 · $3,400").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import and_, func, literal, select, tuple_, union_all
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.companies.models import Company
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_
from app.pipeline.models import Deal, Stage
from app.pipeline.service import parse_day

COLUMN_SIZE = 50
LIST_SIZE = 50
FILTER_KEYS = ("owner", "close_from", "close_to")
LIST_KEYS = (*FILTER_KEYS, "stage", "q", "sort", "page")
SORTS = {
    "title": N_("Title"),
    "value": N_("Value"),
    "close": N_("Expected close date"),
    "stage": N_("Stage"),
    "updated": N_("Last update"),
    "created": N_("Created"),
}
DEFAULT_SORT = "-updated"


@dataclass(frozen=True)
class Filters:
    """The board's (and the list's) filters, as parsed from the URL."""

    owner: str = ""  # "" all, "me", "none" or a user id (as text)
    owner_id: int | None = None  # "me" resolved
    close_from: date | None = None
    close_to: date | None = None
    stage: int | None = None  # list only
    q: str = ""  # list only: title contains
    sort: str = DEFAULT_SORT
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def conditions(self) -> list[Any]:
        """SQL conditions on Deal for the filters (not the list-only stage and q)."""
        out: list[Any] = []
        if self.owner == "none":
            out.append(Deal.owner_id.is_(None))
        elif self.owner_id is not None:
            out.append(Deal.owner_id == self.owner_id)
        if self.close_from is not None:
            out.append(Deal.expected_close_date >= self.close_from)
        if self.close_to is not None:
            out.append(Deal.expected_close_date <= self.close_to)
        return out

    def list_conditions(self) -> list[Any]:
        out = self.conditions()
        if self.stage is not None:
            out.append(Deal.stage_id == self.stage)
        if self.q:
            escaped = self.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(func.lower(Deal.title).like(f"%{escaped}%", escape="\\"))
        return out

    def args(self) -> dict[str, str]:
        """The board filters as URL arguments (what a link or a move form carries)."""
        out = {}
        if self.owner:
            out["owner"] = self.owner
        if self.close_from:
            out["close_from"] = self.close_from.isoformat()
        if self.close_to:
            out["close_to"] = self.close_to.isoformat()
        return out

    def list_args(self) -> dict[str, str]:
        out = self.args()
        if self.stage is not None:
            out["stage"] = str(self.stage)
        if self.q:
            out["q"] = self.q
        if self.sort != DEFAULT_SORT:
            out["sort"] = self.sort
        return out

    @property
    def active(self) -> bool:
        return bool(self.args())


def parse_filters(args: Mapping[str, str], me: int | None) -> Filters:
    """Filters from URL arguments; a bad value is dropped with a message in `errors`."""
    errors: dict[str, str] = {}
    owner = (args.get("owner") or "").strip()
    owner_id = None
    if owner == "me":
        owner_id = me
    elif owner.isdigit() and len(owner) < 12:
        owner_id = int(owner)
    elif owner and owner != "none":
        errors["owner"] = N_("Unknown owner.")
        owner = ""
    days: dict[str, date | None] = {}
    for key in ("close_from", "close_to"):
        try:
            days[key] = parse_day((args.get(key) or "").strip() or None)
        except ValueError as exc:
            errors[key] = exc.args[0]
            days[key] = None
    stage = (args.get("stage") or "").strip()
    stage_id = int(stage) if stage.isdigit() and len(stage) < 12 else None
    if stage and stage_id is None:
        errors["stage"] = N_("No such stage.")
    sort = (args.get("sort") or DEFAULT_SORT).strip()
    if sort.lstrip("-") not in SORTS:
        errors["sort"] = N_("Unknown sort.")
        sort = DEFAULT_SORT
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    return Filters(
        owner=owner,
        owner_id=owner_id,
        close_from=days["close_from"],
        close_to=days["close_to"],
        stage=stage_id,
        q=(args.get("q") or "").strip()[:200],
        sort=sort,
        page=page,
        errors=errors,
    )


# ------------------------------------------------------------------ cards


@dataclass
class Card:
    """What a card shows (read as plain columns, not ORM objects)."""

    id: int
    title: str
    value: Decimal | None
    currency: str
    stage_id: int
    position: float
    version: int
    stage_entered_at: Any
    expected_close_date: date | None
    contact_id: int | None
    contact_name: str | None
    owner_name: str | None


@cache
def _card_select():
    """SELECT of what a card shows (built once: statements are immutable)."""
    owner = aliased(User)
    contact_name = func.trim(
        func.coalesce(Contact.first_name, "") + literal(" ") + func.coalesce(Contact.last_name, "")
    )
    return (
        select(
            Deal.id,
            Deal.title,
            Deal.value,
            Deal.currency,
            Deal.stage_id,
            Deal.position,
            Deal.version,
            Deal.stage_entered_at,
            Deal.expected_close_date,
            Deal.contact_id,
            func.coalesce(func.nullif(contact_name, ""), Contact.email).label("contact_name"),
            func.coalesce(owner.name, owner.email).label("owner_name"),
        )
        .outerjoin(Contact, Contact.id == Deal.contact_id)
        .outerjoin(owner, owner.id == Deal.owner_id)
    )


def _cards(rows) -> list[Card]:
    return [Card(*row) for row in rows]


def first_cards(
    stage_ids: Sequence[int], filters: Filters, size: int = COLUMN_SIZE
) -> tuple[dict[int, list[Card]], set[int]]:
    """The first `size` cards of every column, in one query; and the columns with more."""
    out: dict[int, list[Card]] = {sid: [] for sid in stage_ids}
    if not stage_ids:
        return out, set()
    conds = filters.conditions()
    parts = [
        select(
            select(Deal.id)
            .where(Deal.stage_id == sid, *conds)
            .order_by(Deal.position, Deal.id)
            .limit(size + 1)
            .subquery()
        )
        for sid in stage_ids
    ]
    ids = parts[0] if len(parts) == 1 else union_all(*parts)
    stmt = _card_select().where(Deal.id.in_(ids)).order_by(Deal.stage_id, Deal.position, Deal.id)
    more = set()
    for card in _cards(db.session.execute(stmt)):
        column = out[card.stage_id]
        if len(column) < size:
            column.append(card)
        else:
            more.add(card.stage_id)
    return out, more


def more_cards(
    stage_id: int, filters: Filters, after: tuple[float, int], size: int = COLUMN_SIZE
) -> tuple[list[Card], bool]:
    """The cards of a column after (position, id) `after`; and whether more follow."""
    stmt = (
        _card_select()
        .where(
            Deal.stage_id == stage_id,
            tuple_(Deal.position, Deal.id) > tuple_(float(after[0]), int(after[1])),
            *filters.conditions(),
        )
        .order_by(Deal.position, Deal.id)
        .limit(size + 1)
    )
    cards = _cards(db.session.execute(stmt))
    return cards[:size], len(cards) > size


def card(deal_id: int) -> Card | None:
    """One card (after a move)."""
    row = db.session.execute(_card_select().where(Deal.id == deal_id)).first()
    return Card(*row) if row else None


def parse_cursor(raw: str | None) -> tuple[float, int] | None:
    """ "<position>:<id>" as the lazy column pages carry it; None when malformed."""
    if not raw or ":" not in raw:
        return None
    position, _, deal_id = raw.rpartition(":")
    try:
        value = float(position)
    except ValueError:
        return None
    if not deal_id.isdigit() or value != value or value in (float("inf"), float("-inf")):
        return None
    return value, int(deal_id)


def cursor_of(card: Card) -> str:
    return f"{card.position!r}:{card.id}"


# ------------------------------------------------------------------ totals


@dataclass
class Totals:
    """A column's count and its sums by currency (largest first)."""

    count: int = 0
    sums: list[tuple[str, Decimal]] = field(default_factory=list)


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))


def totals(filters: Filters) -> dict[int, Totals]:
    """Count and sum of value per stage (and currency), in one grouped query."""
    stmt = (
        select(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.value))
        .where(*filters.conditions())
        .group_by(Deal.stage_id, Deal.currency)
    )
    out: dict[int, Totals] = {}
    for stage_id, currency, count, total in db.session.execute(stmt):
        entry = out.setdefault(stage_id, Totals())
        entry.count += count
        if total is not None:
            entry.sums.append((currency, _money(total)))
    for entry in out.values():
        entry.sums.sort(key=lambda item: (-item[1], item[0]))
    return out


# ------------------------------------------------------------------ deals list


@dataclass
class ListRow:
    card: Card
    stage_name: str
    company_name: str | None
    owner_name: str | None
    updated_at: Any


def _order(sort: str) -> list[Any]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = {
        "title": func.lower(Deal.title),
        "value": Deal.value,
        "close": Deal.expected_close_date,
        "stage": Stage.position,
        "updated": Deal.updated_at,
        "created": Deal.created_at,
    }[key]
    if descending:
        return [column.desc().nulls_last(), Deal.id.desc()]
    return [column.asc().nulls_last(), Deal.id]


def deals_page(filters: Filters, size: int = LIST_SIZE) -> tuple[list[ListRow], int]:
    """One page of the deals list (filters, stage, title search, sort) and the total."""
    conds = filters.list_conditions()
    total = db.session.scalar(select(func.count()).select_from(Deal).where(*conds)) or 0
    stmt = (
        _card_select()
        .add_columns(Stage.name, Company.name, Deal.updated_at)
        .join(Stage, Stage.id == Deal.stage_id)
        .outerjoin(Company, and_(Company.id == Deal.company_id))
        .where(*conds)
        .order_by(*_order(filters.sort))
        .limit(size)
        .offset((filters.page - 1) * size)
    )
    rows = []
    for row in db.session.execute(stmt):
        c = Card(*row[:12])
        rows.append(ListRow(c, row[12], row[13], c.owner_name, row[14]))
    return rows, total


def owners() -> list[tuple[int, str]]:
    """Active users for the owner filter and the deal form: (id, name)."""
    rows = db.session.execute(
        select(User.id, func.coalesce(User.name, User.email))
        .where(User.active.is_(True))
        .order_by(func.lower(func.coalesce(User.name, User.email)))
    )
    return [(user_id, name) for user_id, name in rows]
