"""The contact list query: filters, search, sort and keyset pages (no Flask).

`parse_args` turns URL arguments into a ContactQuery (ignoring, with a notice,
what it does not know); `fetch_page` and `count` run it. Pages are keyset pages
ordered by (sort value, id) with NULL values last in either direction, so page
10,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    column,
    exists,
    false,
    func,
    literal_column,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement, Select

from app.contacts.custom import TRUE, value_column
from app.contacts.fields import BY_NAME, CONSENT_STATUSES, STATUSES
from app.contacts.models import Contact, ContactTag, CustomFieldValue, Tag
from app.contacts.search import query_terms
from app.i18n import N_, Message
from app.lists.models import ListMembership

COLUMN_SORTS = tuple(f.name for f in BY_NAME.values() if f.sortable)
DEFAULT_SORT = "-created_at"
# A search lists newest matches first by id: the search index yields matches in
# that order, so a page stops after a page however common the words are.
SEARCH_SORT = "-id"
MAX_LIMIT = 500
PARAMS = {
    "q", "status", "tag", "company", "owner", "source", "score_min", "score_max", "consent",
    "created_from", "created_to", "contacted_from", "contacted_to", "activity_from",
    "activity_to", "list", "archived", "sort", "cursor", "limit", "cols", "id", "segment",
}  # fmt: skip
DATE_RANGES = {
    "created": "created_at",
    "contacted": "last_contacted_at",
    "activity": "last_activity_at",
}


@dataclass(frozen=True)
class CustomFieldInfo:
    """What the query needs to know of a custom field definition."""

    id: int
    name: str
    type: str
    label: str = ""
    options: tuple[str, ...] = ()


@dataclass
class CustomFilter:
    field: CustomFieldInfo
    op: str  # eq (any of values), min, max, from, to, is
    values: list[Any]


@dataclass(frozen=True)
class SegmentFilter:
    """A saved segment applied to the list: its compiled condition, or why it cannot be."""

    id: int
    name: str
    condition: ColumnElement
    error: str | None = None


@dataclass
class ContactQuery:
    """A validated contact list request."""

    q: str = ""
    statuses: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    company_id: int | None = None
    owner: int | str | None = None  # user id, or "none"
    source: str | None = None
    score_min: int | None = None
    score_max: int | None = None
    consent: list[str] = field(default_factory=list)
    dates: dict[str, tuple[date | None, date | None]] = field(default_factory=dict)
    list_id: int | None = None
    archived: str = "hide"  # hide, include, only
    ids: list[int] = field(default_factory=list)
    custom: list[CustomFilter] = field(default_factory=list)
    segment_id: int | None = None
    segment: SegmentFilter | None = field(default=None, compare=False, repr=False)
    sort: str = DEFAULT_SORT
    cursor: str | None = None
    limit: int = 50

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list beyond the default."""
        return bool(
            self.q or self.statuses or self.tags or self.company_id or self.owner
            or self.source or self.score_min is not None or self.score_max is not None
            or self.consent or self.dates or self.list_id or self.custom or self.ids
            or self.archived != "hide" or self.segment_id
        )  # fmt: skip


def _one(args: Mapping[str, Sequence[str]], key: str) -> str:
    values = args.get(key) or []
    return values[-1].strip() if values else ""


def _many(args: Mapping[str, Sequence[str]], key: str) -> list[str]:
    out: list[str] = []
    for v in args.get(key) or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def parse_args(
    args: Mapping[str, Sequence[str]],
    custom_fields: Sequence[CustomFieldInfo] = (),
    *,
    me_id: int | None = None,
    default_limit: int = 50,
    session: Session | None = None,
) -> tuple[ContactQuery, list[str]]:
    """A ContactQuery from URL arguments, and notices for what was ignored.

    With a `session`, a `segment` argument is looked up at once (an unknown one is a
    notice); without, it is looked up when the query runs (an unknown one matches nothing).
    """
    notices: list[str] = []
    cq = ContactQuery(limit=default_limit)
    by_name = {c.name: c for c in custom_fields}

    def bad(key: str, value: str) -> None:
        notices.append(
            Message(N_('Ignored "%(key)s": "%(value)s" is not valid.'), key=key, value=value)
        )

    def as_int(key: str) -> int | None:
        v = _one(args, key)
        if not v:
            return None
        try:
            return int(v)
        except ValueError:
            bad(key, v)
            return None

    def as_date(key: str) -> date | None:
        v = _one(args, key)
        if not v:
            return None
        try:
            return date.fromisoformat(v)
        except ValueError:
            bad(key, v)
            return None

    for key in args:
        if key in PARAMS or key.startswith("_"):
            continue
        if key.startswith("cf."):
            name, _, op = key[3:].partition(".")
            if name in by_name:
                continue
        notices.append(Message(N_('Ignored unknown filter "%(key)s".'), key=key))

    cq.q = _one(args, "q")[:200]
    for s in _many(args, "status"):
        (cq.statuses.append(s) if s in STATUSES else bad("status", s))
    cq.tags = [t for t in _many(args, "tag")][:20]
    cq.company_id = as_int("company")
    owner = _one(args, "owner")
    if owner == "me":
        cq.owner = me_id
    elif owner == "none":
        cq.owner = "none"
    elif owner:
        cq.owner = as_int("owner")
    cq.source = _one(args, "source") or None
    cq.score_min = as_int("score_min")
    cq.score_max = as_int("score_max")
    for c in _many(args, "consent"):
        (cq.consent.append(c) if c in CONSENT_STATUSES else bad("consent", c))
    for prefix in DATE_RANGES:
        lo, hi = as_date(f"{prefix}_from"), as_date(f"{prefix}_to")
        if lo or hi:
            cq.dates[prefix] = (lo, hi)
    cq.list_id = as_int("list")
    archived = _one(args, "archived")
    if archived in ("include", "only"):
        cq.archived = archived
    elif archived and archived != "hide":
        bad("archived", archived)
    for v in _many(args, "id"):
        if v.isdigit():
            cq.ids.append(int(v))
    cq.segment_id = as_int("segment")
    if cq.segment_id is not None and session is not None:
        cq.segment = load_segment(session, cq.segment_id)
        if cq.segment is None:
            notices.append(
                Message(N_('Ignored "segment": no segment has the id %(id)s.'), id=cq.segment_id)
            )
            cq.segment_id = None
        elif cq.segment.error:
            notices.append(
                Message(
                    N_('The segment "%(name)s" cannot be applied: %(error)s'),
                    name=cq.segment.name,
                    error=cq.segment.error,
                )
            )
    for key, values in args.items():
        if not key.startswith("cf."):
            continue
        name, _, op = key[3:].partition(".")
        info = by_name.get(name)
        vals = [v.strip() for v in values if v.strip()]
        if info is None or not vals:
            continue
        parsed = _parse_custom(info, op or "eq", vals)
        if parsed is None:
            bad(key, vals[-1])
        else:
            cq.custom.append(parsed)
    sort = _one(args, "sort") or (SEARCH_SORT if query_terms(cq.q) else DEFAULT_SORT)
    key = sort.lstrip("-")
    sortable_custom = key.startswith("cf.") and key[3:] in by_name and by_name[key[3:]].type in (
        "text", "number", "date", "boolean", "select",
    )  # fmt: skip
    if key in COLUMN_SORTS or key == "id" or sortable_custom:
        cq.sort = sort
    else:
        notices.append(Message(N_('Ignored unknown sort "%(key)s".'), key=sort))
    cq.cursor = _one(args, "cursor") or None
    limit = as_int("limit")
    if limit is not None:
        cq.limit = max(1, min(limit, MAX_LIMIT))
    return cq, notices


def load_segment(session: Session, segment_id: int) -> SegmentFilter | None:
    """The saved segment compiled for the current custom fields (None when unknown).

    A definition that no longer validates (a custom field deleted since) matches
    nothing and carries the reason.
    """
    from app.segments import compile as segment_compile
    from app.segments.models import Segment
    from app.segments.tree import TreeError

    segment = session.get(Segment, segment_id)
    if segment is None:
        return None
    types = segment_compile.custom_field_types(session)
    try:
        condition = segment_compile.condition(
            segment.conditions, types, timezone=segment.timezone or "UTC"
        )
    except TreeError as exc:
        return SegmentFilter(segment.id, segment.name, false(), str(exc))
    return SegmentFilter(segment.id, segment.name, condition)


def _with_segment(session: Session, cq: ContactQuery) -> ContactQuery:
    """The query with its segment looked up (when parse_args had no session)."""
    if cq.segment_id is None or cq.segment is not None:
        return cq
    segment = load_segment(session, cq.segment_id)
    return replace(cq, segment=segment or SegmentFilter(cq.segment_id, "", false()))


def _parse_custom(info: CustomFieldInfo, op: str, vals: list[str]) -> CustomFilter | None:
    try:
        if info.type == "number" and op in ("min", "max", "eq"):
            return CustomFilter(info, op, [float(v.replace(",", ".")) for v in vals])
        if info.type == "date" and op in ("from", "to", "eq"):
            return CustomFilter(info, op, [date.fromisoformat(v) for v in vals])
        if info.type == "boolean" and op == "eq":
            return CustomFilter(info, op, [vals[-1].casefold() in TRUE])
        if info.type in ("text", "select", "multiselect") and op == "eq":
            return CustomFilter(info, op, vals)
    except ValueError:
        return None
    return None


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min)


def _fts_expression(terms: list[str]) -> str:
    return " ".join(f'"{t}"*' for t in terms)


def _fts_match(dialect: str, terms: list[str], *, plain: bool = False) -> ColumnElement:
    if dialect == "postgresql":
        tsquery = " & ".join(f"{t}:*" for t in terms)
        return func.to_tsvector(literal_column("'simple'::regconfig"), Contact.search_text).op(
            "@@"
        )(func.to_tsquery(literal_column("'simple'::regconfig"), tsquery))
    match = _fts_expression(terms)
    sub = text("SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH :fts").bindparams(fts=match)
    # `+id` (a common search under another sort): build the match set once and walk
    # the sort index, rather than look every match up and sort them all.
    target = literal_column("+contacts.id", Contact.id.type) if plain else Contact.id
    return target.in_(sub)


def _search_is_broad(session: Session, terms: list[str]) -> bool:
    """SQLite: whether a search matches more than BROAD contacts (stops counting there)."""
    probe = text(
        "SELECT count(*) FROM (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH :fts "
        "LIMIT :n)"
    ).bindparams(fts=_fts_expression(terms), n=BROAD + 1)
    return (session.scalar(probe) or 0) > BROAD


# Filters on indexed contact columns. On SQLite, one that matches many contacts is
# written as `+column`, a plain row filter: the planner then walks the sort index and
# stops after a page, instead of collecting every match through the filter's index
# and sorting them all (SQLite has no statistics to tell the two plans apart).
INDEXED_FILTERS = (
    "status", "consent_status", "source", "owner_id", "lead_score",
    "created_at", "last_contacted_at", "last_activity_at",
)  # fmt: skip
BROAD = 5000


def _column(name: str, plain: frozenset[str]):
    column = getattr(Contact, name)
    return literal_column(f"+contacts.{name}", column.type) if name in plain else column


def _column_conditions(
    cq: ContactQuery, plain: frozenset[str] = frozenset()
) -> dict[str, list[ColumnElement]]:
    """The query's conditions on indexed contact columns, by column."""
    out: dict[str, list[ColumnElement]] = {}

    def add(name: str, condition: ColumnElement) -> None:
        out.setdefault(name, []).append(condition)

    if cq.statuses:
        add("status", _column("status", plain).in_(cq.statuses))
    if cq.owner == "none":
        add("owner_id", _column("owner_id", plain).is_(None))
    elif cq.owner is not None:
        add("owner_id", _column("owner_id", plain) == cq.owner)
    if cq.source:
        add("source", _column("source", plain) == cq.source)
    if cq.score_min is not None:
        add("lead_score", _column("lead_score", plain) >= cq.score_min)
    if cq.score_max is not None:
        add("lead_score", _column("lead_score", plain) <= cq.score_max)
    if cq.consent:
        add("consent_status", _column("consent_status", plain).in_(cq.consent))
    for prefix, (lo, hi) in cq.dates.items():
        name = DATE_RANGES[prefix]
        if lo:
            add(name, _column(name, plain) >= _start(lo))
        if hi:
            add(name, _column(name, plain) < _start(hi + timedelta(days=1)))
    return out


def broad_filters(
    session: Session, cq: ContactQuery, sort_column: str | None
) -> tuple[frozenset[str], bool]:
    """SQLite: the filtered columns (other than the sort's) whose filter matches more
    than BROAD contacts, and whether another filtered column is narrower than that.
    Each probe stops counting at BROAD, through the column's own index."""
    broad, narrow = set(), False
    for name, conditions in _column_conditions(cq).items():
        if name == sort_column:
            continue
        probe = select(literal_column("1")).select_from(Contact).where(*conditions).limit(BROAD + 1)
        if session.scalar(select(func.count()).select_from(probe.subquery())) > BROAD:
            broad.add(name)
        else:
            narrow = True
    return frozenset(broad), narrow


def where_clauses(
    cq: ContactQuery,
    dialect: str,
    *,
    plain: frozenset[str] = frozenset(),
    fts_join: bool = False,
    as_sets: bool = False,
) -> list[ColumnElement]:
    """The WHERE conditions of a query, for any select over Contact.

    `plain` (SQLite) names columns whose index the planner must not use (see
    broad_filters). With `fts_join` the caller joins the search table itself and
    the search condition is left out.
    """
    if dialect != "sqlite":
        plain = frozenset()
    w: list[ColumnElement] = []
    if cq.archived == "hide":
        w.append(Contact.archived_at.is_(None))
    elif cq.archived == "only":
        w.append(Contact.archived_at.is_not(None))
    terms = query_terms(cq.q)
    if terms and not fts_join:
        w.append(_fts_match(dialect, terms, plain="id" in plain))
    if cq.ids:
        w.append(Contact.id.in_(cq.ids))
    for conditions in _column_conditions(cq, plain).values():
        w.extend(conditions)
    for name in cq.tags:
        tagged = (
            select(ContactTag.contact_id)
            .join(Tag, Tag.id == ContactTag.tag_id)
            .where(Tag.key == name.casefold())
        )
        if as_sets:
            w.append(Contact.id.in_(tagged))
        else:
            w.append(exists(tagged.where(ContactTag.contact_id == Contact.id)))
    if cq.company_id is not None:
        w.append(Contact.company_id == cq.company_id)
    if cq.list_id is not None:
        w.append(
            exists(
                select(literal_column("1")).where(
                    ListMembership.contact_id == Contact.id, ListMembership.list_id == cq.list_id
                )
            )
        )
    for cf in cq.custom:
        w.append(_custom_clause(cf, as_set=as_sets))
    if cq.segment is not None:
        w.append(cq.segment.condition)
    elif cq.segment_id is not None:
        w.append(false())  # not looked up: see _with_segment
    return w


def _custom_clause(cf: CustomFilter, *, as_set: bool = False) -> ColumnElement:
    v = aliased(CustomFieldValue)
    col = getattr(v, value_column(cf.field.type))
    if cf.op == "eq":
        cond = col.in_(cf.values) if len(cf.values) > 1 else col == cf.values[0]
    elif cf.op in ("min", "from"):
        cond = col >= cf.values[-1]
    else:
        cond = col <= cf.values[-1]
    holders = select(v.contact_id).where(v.field_id == cf.field.id, cond)
    if as_set:
        return Contact.id.in_(holders)
    return exists(holders.where(v.contact_id == Contact.id))


@dataclass
class _SortPlan:
    expr: ColumnElement
    join: tuple | None
    null_clause: ColumnElement
    kind: str  # datetime, date, number, text, bool


def _sort_plan(cq: ContactQuery, custom_fields: Sequence[CustomFieldInfo]) -> _SortPlan:
    key = cq.sort_key
    if key == "id":
        return _SortPlan(Contact.id, None, false(), "number")
    if key.startswith("cf."):
        info = next(c for c in custom_fields if c.name == key[3:])
        v = aliased(CustomFieldValue)
        col = getattr(v, value_column(info.type))
        v2 = aliased(CustomFieldValue)
        null = ~exists(
            select(literal_column("1")).where(
                v2.contact_id == Contact.id,
                v2.field_id == info.id,
                getattr(v2, value_column(info.type)).is_not(None),
            )
        )
        kind = {"number": "number", "date": "date", "boolean": "bool"}.get(info.type, "text")
        return _SortPlan(
            col, (v, and_(v.contact_id == Contact.id, v.field_id == info.id)), null, kind
        )
    spec = BY_NAME[key]
    col = getattr(Contact, spec.db_column)
    kind = {"datetime": "datetime", "int": "number", "date": "date"}.get(spec.type, "text")
    return _SortPlan(col, None, col.is_(None), kind)


def encode_cursor(phase: int, value: Any, last_id: int) -> str:
    if isinstance(value, (datetime, date)):
        value = value.isoformat()
    raw = json.dumps([phase, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> tuple[int, Any, int] | None:
    """(phase, sort value, id) from a cursor, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        phase, value, last_id = json.loads(raw)
        if phase not in (0, 1) or not (isinstance(last_id, int) or (phase, last_id) == (1, None)):
            return None
        if phase == 0:
            if kind == "datetime":
                value = datetime.fromisoformat(value)
            elif kind == "date":
                value = date.fromisoformat(value)
            elif (
                (kind == "number" and not isinstance(value, (int, float)))
                or (kind == "text" and not isinstance(value, str))
                or (kind == "bool" and not isinstance(value, bool))
            ):
                return None
        return phase, value, last_id
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def fetch_page(
    session: Session,
    cq: ContactQuery,
    custom_fields: Sequence[CustomFieldInfo] = (),
) -> tuple[list[Contact], str | None]:
    """One page of contacts and the cursor of the next page (None on the last)."""
    cq = _with_segment(session, cq)
    dialect = _dialect(session)
    plan = _sort_plan(cq, custom_fields)
    key = cq.sort_key
    terms = query_terms(cq.q)
    fts_join = dialect == "sqlite" and bool(terms) and key == "id"
    sort_column = None if key.startswith("cf.") else "id" if key == "id" else BY_NAME[key].db_column
    plain: frozenset[str] = frozenset()
    if dialect == "sqlite" and terms and not fts_join and sort_column:
        if _search_is_broad(session, terms):
            plain = frozenset({"id"})
    elif dialect == "sqlite" and sort_column:
        plain, narrow = broad_filters(session, cq, sort_column)
        if narrow and plan.join is None:
            # A narrow filter finds at most BROAD rows: sorting them beats walking the
            # whole sort index, so keep the planner off that index.
            plan = replace(plan, expr=_column(sort_column, frozenset({sort_column})))
    where = where_clauses(cq, dialect, plain=plain, fts_join=fts_join)
    desc = cq.descending
    cursor = decode_cursor(cq.cursor, plan.kind) if cq.cursor else None
    limit = cq.limit
    if key == "id":
        return _fetch_by_id(
            session, where, terms if fts_join else [], desc, cursor, limit, plan.expr
        )
    rows: list[Contact] = []
    if cursor is None or cursor[0] == 0:
        stmt: Select = select(Contact, plan.expr)
        if plan.join is not None:
            stmt = stmt.join(*plan.join)
        stmt = stmt.where(*where, plan.expr.is_not(None))
        if cursor is not None:
            keyset = tuple_(plan.expr, Contact.id)
            after = tuple_(cursor[1], cursor[2])
            stmt = stmt.where(keyset < after if desc else keyset > after)
        order = (plan.expr.desc(), Contact.id.desc()) if desc else (plan.expr, Contact.id)
        result = session.execute(stmt.order_by(*order).limit(limit + 1)).all()
        if len(result) > limit:
            last = result[limit - 1]
            return [r[0] for r in result[:limit]], encode_cursor(0, last[1], last[0].id)
        rows = [r[0] for r in result]
        after_id = None
    else:
        after_id = cursor[2]
    remaining = limit - len(rows)
    stmt = select(Contact).where(*where, plan.null_clause)
    if after_id is not None:
        stmt = stmt.where(Contact.id < after_id if desc else Contact.id > after_id)
    # Ordering by (sort column, id) is the same order here (the column is NULL) and
    # lets the database walk the (column, id) index instead of the whole table.
    if plan.join is None:
        order = (plan.expr.desc(), Contact.id.desc()) if desc else (plan.expr, Contact.id)
    else:
        order = (Contact.id.desc(),) if desc else (Contact.id,)
    stmt = stmt.order_by(*order).limit(remaining + 1)
    nulls = list(session.scalars(stmt))
    if len(nulls) > remaining:
        nulls = nulls[:remaining]
        # An empty `nulls` means this page ended exactly where the NULL values begin.
        return rows + nulls, encode_cursor(1, None, nulls[-1].id if nulls else None)
    return rows + nulls, None


def _fetch_by_id(
    session: Session,
    where: list[ColumnElement],
    fts_terms: list[str],
    desc: bool,
    cursor: tuple[int, Any, int] | None,
    limit: int,
    order_col: ColumnElement,
) -> tuple[list[Contact], str | None]:
    """A page ordered by id; on SQLite a search walks the FTS index in rowid order."""
    stmt: Select = select(Contact)
    if fts_terms:
        fts = table("contacts_fts", column("rowid"))
        order_col = fts.c.rowid
        stmt = stmt.join(fts, fts.c.rowid == Contact.id).where(
            text("contacts_fts MATCH :fts").bindparams(fts=_fts_expression(fts_terms))
        )
    stmt = stmt.where(*where)
    if cursor is not None and cursor[2] is not None:
        stmt = stmt.where(order_col < cursor[2] if desc else order_col > cursor[2])
    stmt = stmt.order_by(order_col.desc() if desc else order_col).limit(limit + 1)
    rows = list(session.scalars(stmt))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(0, rows[limit - 1].id, rows[limit - 1].id)
    return rows, None


def count(session: Session, cq: ContactQuery) -> int:
    """How many contacts match the query's filters.

    Hiding archived contacts is counted as "all matches minus archived matches":
    the first count can use any index, the second the small partial index of
    archived contacts, where `archived_at IS NULL` alone would read the whole table.
    """
    cq = _with_segment(session, cq)
    dialect = _dialect(session)
    if cq.archived != "hide":
        stmt = (
            select(func.count())
            .select_from(Contact)
            .where(*where_clauses(cq, dialect, as_sets=True))
        )
        return session.scalar(stmt) or 0
    with_archived = replace(cq, archived="include")
    only_archived = replace(cq, archived="only")
    total = (
        select(func.count())
        .select_from(Contact)
        .where(*where_clauses(with_archived, dialect, as_sets=True))
    )
    archived = (
        select(func.count())
        .select_from(Contact)
        .where(*where_clauses(only_archived, dialect, as_sets=True))
    )
    return (session.scalar(total) or 0) - (session.scalar(archived) or 0)


def id_select(session: Session, cq: ContactQuery) -> Select:
    """SELECT contacts.id of everything the query matches (for bulk actions and exports)."""
    cq = _with_segment(session, cq)
    return select(Contact.id).where(*where_clauses(cq, _dialect(session)))


def to_args(cq: ContactQuery, **override: Any) -> dict[str, Any]:
    """URL arguments that reproduce the query (for links and bookmarks)."""
    out: dict[str, Any] = {}
    if cq.q:
        out["q"] = cq.q
    if cq.statuses:
        out["status"] = cq.statuses
    if cq.tags:
        out["tag"] = cq.tags
    for key, value in (
        ("company", cq.company_id),
        ("owner", cq.owner),
        ("source", cq.source),
        ("score_min", cq.score_min),
        ("score_max", cq.score_max),
        ("list", cq.list_id),
        ("segment", cq.segment_id),
    ):
        if value is not None:
            out[key] = value
    if cq.consent:
        out["consent"] = cq.consent
    for prefix, (lo, hi) in cq.dates.items():
        if lo:
            out[f"{prefix}_from"] = lo.isoformat()
        if hi:
            out[f"{prefix}_to"] = hi.isoformat()
    if cq.archived != "hide":
        out["archived"] = cq.archived
    for cf in cq.custom:
        key = f"cf.{cf.field.name}" + ("" if cf.op == "eq" else f".{cf.op}")
        vals = [v.isoformat() if isinstance(v, date) else v for v in cf.values]
        if cf.field.type == "boolean":
            vals = ["true" if v else "false" for v in vals]
        out[key] = vals
    if cq.sort != DEFAULT_SORT:
        out["sort"] = cq.sort
    out.update({k: v for k, v in override.items() if v is not None})
    return out
