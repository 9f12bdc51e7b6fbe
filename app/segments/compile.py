"""Condition tree -> one SQL query (SQLAlchemy Core; no session needed to build it).

`condition()` turns a tree (see app.segments.tree for its semantics) into a WHERE
clause over the contacts table. Values are bound parameters; field names, columns and
operators come from allowlists (the tree is parsed again first). Tags, lists, custom
values, activities and events become subqueries over their tables:

- SQLite: ``contacts.id [NOT] IN (SELECT contact_id ...)``; SQLite builds each set once,
  wherever it sits in the tree. A custom event is read in contact order from its
  covering index (``+kind``/``+occurred_at`` keep SQLite off the (kind, time) index:
  it has no statistics on values to tell which is better).
- PostgreSQL: a correlated ``EXISTS`` for plain membership (the planner turns it into a
  semi/anti join or a hashed set), ``IN (... GROUP BY contact_id HAVING ...)`` / ``NOT
  EXISTS (that)`` for an aggregate (count, sum...) in the top-level AND of the tree (a
  semi / anti join). When an aggregate sits under an ANY or a NOT, the tree becomes
  ``contacts.id IN (<joins and UNIONs>)``: PostgreSQL plans an IN inside OR as a hashed
  set only while it expects the set to fit in work_mem, and otherwise scans the whole
  set once per contact. An ALL holding an aggregate reads that aggregate's id set and
  subtracts a NOT beside it through its own index (`_Compiler.driven_by`).

`count()` counts an ANY with aggregates (and any tree with an aggregate at the top) as
the distinct ids of a UNION ALL of id sets less the archived ones, so no contact row is
read only for archived_at; on PostgreSQL the union's branches run in parallel workers.

The two forms are chosen when the statement is compiled for its database (``_Either``),
so one ColumnElement serves both. Such statements are not cached by SQLAlchemy (their
compilation takes about a millisecond).

Every leaf is two-valued (never SQL NULL), so NOT means exactly "does not match".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Float,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, CompoundSelect, Select

from app.auth.models import User
from app.companies.models import Company
from app.contacts.custom import value_column
from app.contacts.fields import BY_NAME
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.extensions import temp_files
from app.lists.models import ContactList, ListMembership
from app.segments.tree import CustomFieldType, check_timezone, field_type, parse
from app.timeline.models import Activity
from app.timeutil import utcnow

contacts = Contact.__table__
_activities = Activity.__table__
_cfv = CustomFieldValue.__table__
_contact_tags = ContactTag.__table__
_tags = Tag.__table__
_memberships = ListMembership.__table__
_lists = ContactList.__table__

# Standard fields whose text values are stored normalised: eq/in compare them exactly.
_NORMALISED = frozenset({"email", "phone", "country", "choice"})
_REF_TABLES = {
    "owner": (User.__table__, "email"),
    "company": (Company.__table__, "name"),
    "reports_to": (contacts.alias("ref_contacts"), "email"),
    "referred_by": (contacts.alias("ref_contacts"), "email"),
}


# --------------------------------------------------------------------------- public API


def _prepared(
    tree: dict,
    custom_fields: Mapping[str, CustomFieldType],
    timezone: str,
    now: datetime | None,
) -> tuple[_Compiler, dict]:
    zone = ZoneInfo(check_timezone(timezone))
    parsed = parse(tree, custom_fields)
    if now is None:
        now = utcnow()
    elif now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return _Compiler(custom_fields, zone, now), parsed


def condition(
    tree: dict,
    custom_fields: Mapping[str, CustomFieldType] = {},
    *,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> ColumnElement[bool]:
    """The WHERE clause (over app.contacts.models.Contact.__table__) of the contacts
    a tree matches. Dates are evaluated in `timezone`, windows end at `now` (naive UTC;
    default: the current time). Archived contacts are not filtered out here.
    Raises TreeError for an invalid tree or timezone."""
    compiler, parsed = _prepared(tree, custom_fields, timezone, now)
    expr = compiler.node(parsed, top=True)
    if _nested_aggregate(parsed):
        # PostgreSQL plans an IN inside OR/NOT as a hashed set only when it expects the
        # set to fit in memory, else as a scan of the whole set per contact: write the
        # tree as semi/anti joins and set operations instead (see _Compiler.pg_root).
        expr = _Either(expr, compiler.pg_root(parsed))
    return expr


def contact_ids(tree: dict, custom_fields: Mapping[str, CustomFieldType] = {}, **kw: Any) -> Select:
    """SELECT contacts.id of the contacts the tree matches, archived ones left out."""
    return select(contacts.c.id).where(
        contacts.c.archived_at.is_(None), condition(tree, custom_fields, **kw)
    )


def count(
    session: Session,
    tree: dict,
    custom_fields: Mapping[str, CustomFieldType] = {},
    *,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> int:
    """How many contacts (archived ones left out) the tree matches."""
    stmt = count_statement(session, tree, custom_fields, timezone=timezone, now=now)
    with temp_files(session):  # its GROUP BYs sort with SQLite's faster sorter
        return int(session.execute(stmt).scalar_one())


def count_statement(
    session: Session,
    tree: dict,
    custom_fields: Mapping[str, CustomFieldType] = {},
    *,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> Select:
    """The SELECT count(...) that `count` runs (for the session's database)."""
    pg = session.get_bind().dialect.name == "postgresql"
    compiler, parsed = _prepared(tree, custom_fields, timezone, now)
    many = "any" in parsed  # an id may come from several branches (a NOT gives each once)
    if ("any" in parsed and _nested_aggregate(parsed)) or (
        _has_aggregate(parsed) and "all" not in parsed
    ):
        # An ANY with aggregates (a UNION ALL of the branches' id sets; on PostgreSQL
        # they run side by side in parallel workers), or an aggregate at the top: count
        # the (distinct) ids directly, less the archived, instead of looking up or
        # joining a contact row per id only to read archived_at.
        compiler.sqlite = not pg
        ids = compiler.ids(parsed, distinct=False).subquery()
        first = next(iter(ids.c))
        alive = _not_archived(first, pg)
        if many and not pg:
            # SQLite: GROUP BY sorts the ids (its sorter), which is faster than the
            # B-tree that count(DISTINCT) inserts them into one by one.
            grouped = select(first).where(alive).group_by(first).subquery()
            return select(func.count()).select_from(grouped)
        counted = func.count(first.distinct()) if many else func.count()
        return select(counted).select_from(ids).where(alive)
    where = condition(tree, custom_fields, timezone=timezone, now=now)
    alive = _not_archived(contacts.c.id, pg) if pg else contacts.c.archived_at.is_(None)
    return select(func.count()).select_from(contacts).where(alive, where)


def _not_archived(id_column: ColumnElement, pg: bool) -> ColumnElement[bool]:
    """`id_column` is not an archived contact's id: the archived are few, read from
    their partial index (on PostgreSQL an anti join, so that a count can stay in
    indexes instead of reading each contact's row for archived_at)."""
    archived = contacts.alias("archived_contacts")
    if not pg:
        return id_column.not_in(select(archived.c.id).where(archived.c.archived_at.is_not(None)))
    return ~exists(
        select(literal_column("1")).where(
            archived.c.id == id_column, archived.c.archived_at.is_not(None)
        )
    )


def custom_field_types(session: Session) -> dict[str, CustomFieldType]:
    """Every custom field definition by name, as parse and compile need them."""
    rows = session.execute(
        select(CustomField.name, CustomField.id, CustomField.type, CustomField.options)
    )
    return {
        name: CustomFieldType(id_, type_, tuple(str(o) for o in options or ()))
        for name, id_, type_, options in rows
    }


def validate(session: Session, data: Any, *, timezone: str = "UTC") -> dict:
    """Parse a tree against the database's custom fields and list names (unknown ones
    are refused) and check the timezone; returns the normalised tree or raises TreeError."""
    check_timezone(timezone)
    names = session.execute(select(ContactList.name)).scalars().all()
    return parse(data, custom_field_types(session), lists=names)


# --------------------------------------------------------------------------- dialect forms


class _Either(ColumnElement):
    """One condition written two ways: `default` (SQLite and others) and `postgresql`."""

    type = Boolean()
    inherit_cache = False
    _is_implicitly_boolean = True  # no "= 1" around it on SQLite: the planner sees the IN

    def __init__(self, default: ColumnElement, postgresql: ColumnElement):
        self.default = default
        self.postgresql = postgresql


@compiles(_Either)
def _either_default(element: _Either, compiler, **kw) -> str:
    return f"({compiler.process(element.default, **kw)})"


@compiles(_Either, "postgresql")
def _either_postgresql(element: _Either, compiler, **kw) -> str:
    return f"({compiler.process(element.postgresql, **kw)})"


class _NoIndex(ColumnElement):
    """A column SQLite may not look up through an index (written +column), for a
    condition that only filters; as is elsewhere. SQLite has no statistics on values,
    so this is how it is told which index is the better one."""

    inherit_cache = False

    def __init__(self, column: ColumnElement):
        self.column = column
        self.type = column.type

    @property
    def _from_objects(self):
        return self.column._from_objects


@compiles(_NoIndex)
def _no_index_default(element: _NoIndex, compiler, **kw) -> str:
    return compiler.process(element.column, **kw)


@compiles(_NoIndex, "sqlite")
def _no_index_sqlite(element: _NoIndex, compiler, **kw) -> str:
    return "+" + compiler.process(element.column, **kw)


class _JsonValue(ColumnElement):
    """The string (kind "text") or number (kind "number") at KEY of a JSON object
    column; NULL when the value there is of another type or missing."""

    inherit_cache = False

    def __init__(self, column: ColumnElement, key: str, kind: str):
        self.column = column
        self.key = key  # checked against tree._WHERE_KEY (letters, digits, _): a safe literal
        self.kind = kind
        self.type = String() if kind == "text" else Float()

    @property
    def _from_objects(self):
        return self.column._from_objects


@compiles(_JsonValue)
def _json_value_sqlite(element: _JsonValue, compiler, **kw) -> str:
    col, key = compiler.process(element.column, **kw), element.key
    types = "= 'text'" if element.kind == "text" else "IN ('integer', 'real')"
    return f"CASE WHEN json_type({col}, '$.{key}') {types} THEN json_extract({col}, '$.{key}') END"


@compiles(_JsonValue, "postgresql")
def _json_value_pg(element: _JsonValue, compiler, **kw) -> str:
    col, key = compiler.process(element.column, **kw), element.key
    if element.kind == "text":
        return f"CASE WHEN json_typeof(({col}) -> '{key}') = 'string' THEN ({col}) ->> '{key}' END"
    return (
        f"CASE WHEN json_typeof(({col}) -> '{key}') = 'number' "
        f"THEN CAST(({col}) ->> '{key}' AS DOUBLE PRECISION) END"
    )


# --------------------------------------------------------------------------- helpers


def _escape_like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _lower(expr) -> ColumnElement:
    return func.lower(expr)


def _like(col, pattern: str) -> ColumnElement:
    return _lower(col).like(_lower(literal(pattern, String())), escape="/")


def _known(col, pred: ColumnElement, nullable: bool = True) -> ColumnElement:
    """`pred`, false (not NULL) when `col` is NULL."""
    return and_(col.is_not(None), pred) if nullable else pred


def _compare(col, op: str, value: Any) -> ColumnElement:
    if op == "eq":
        return col == value
    if op == "neq":
        return col != value
    if op == "gt":
        return col > value
    if op == "gte":
        return col >= value
    if op == "lt":
        return col < value
    if op == "lte":
        return col <= value
    if op == "between":
        return and_(col >= value[0], col <= value[1])
    raise AssertionError(op)  # pragma: no cover


def holds(op: str, value: Any, n: float) -> bool:
    """Whether the number n satisfies a count/aggregate comparison (also used by tests)."""
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
    raise AssertionError(op)  # pragma: no cover


def _positive(op: str) -> str:
    return {"neq": "eq", "not_in": "in", "not_contains": "contains"}.get(op, op)


def _text_pred(col, op: str, value: Any, *, exact: bool) -> ColumnElement:
    """A positive text comparison (eq, in, contains, starts_with, ends_with); NULL-unsafe."""
    if op == "eq":
        return col == value if exact else _lower(col) == _lower(literal(value, String()))
    if op == "in":
        if exact:
            return col.in_(value)
        return _lower(col).in_([_lower(literal(v, String())) for v in value])
    if op == "contains":
        return _like(col, f"%{_escape_like(value)}%")
    if op == "starts_with":
        return _like(col, f"{_escape_like(value)}%")
    if op == "ends_with":
        return _like(col, f"%{_escape_like(value)}")
    raise AssertionError(op)  # pragma: no cover


def _start_utc(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (naive UTC) of a calendar day in a zone."""
    try:
        return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return datetime.min if day.year < 5000 else datetime.max


def _next(day: date) -> date | None:
    return None if day == date.max else day + timedelta(days=1)


def _count_shape(op: str, value: Any) -> str:
    """How a count condition compiles: "some" (at least one row), "none" (no row) or
    "aggregate" (GROUP BY ... HAVING)."""
    if not holds(op, value, 0) and (
        (op == "gte" and value <= 1) or (op == "gt" and value < 1) or (op == "neq" and value == 0)
    ):
        return "some"
    if holds(op, value, 0) and (
        (op in ("eq", "lte") and value == 0)
        or (op == "lt" and value == 1)
        or (op == "between" and value == [0, 0])
    ):
        return "none"
    return "aggregate"


def _is_aggregate(node: dict) -> bool:
    if "activity" in node:
        return _count_shape(node["count"]["op"], node["count"]["value"]) == "aggregate"
    if "event" in node:
        return (
            node["aggregate"] != "count" or _count_shape(node["op"], node["value"]) == "aggregate"
        )
    return False


def _has_aggregate(node: dict) -> bool:
    if "all" in node or "any" in node:
        return any(_has_aggregate(child) for child in node.get("all", node.get("any")))
    if "not" in node:
        return _has_aggregate(node["not"])
    return _is_aggregate(node)


def _first_columns() -> frozenset[str]:
    return frozenset(next(iter(index.columns)).name for index in contacts.indexes)


def _indexed_field(node: dict) -> bool:
    """Whether an ALL has a direct child comparing a contacts column that leads an
    index for equality (eq, in): a condition SQLite can read from that index."""
    leads = _first_columns()
    for child in node.get("all", ()):
        name = child.get("field", "")
        spec = BY_NAME.get(name)
        if spec is not None and child["op"] in ("eq", "in") and spec.db_column in leads:
            return True
    return False


def _small_aggregate(node: dict) -> bool:
    """An aggregate leaf that contacts without any activity do not match: its GROUP BY
    gives its whole (usually small) id set."""
    if not _is_aggregate(node):
        return False
    if "activity" in node:
        return not holds(node["count"]["op"], node["count"]["value"], 0)
    if node["aggregate"] in ("count", "sum"):
        return not holds(node["op"], node["value"], 0)
    return True


def _nested_aggregate(node: dict, top: bool = True) -> bool:
    """Whether an aggregate leaf sits under an ANY or a NOT."""
    if "all" in node:
        return any(_nested_aggregate(child, top) for child in node["all"])
    if "any" in node:
        return any(_nested_aggregate(child, False) for child in node["any"])
    if "not" in node:
        return _nested_aggregate(node["not"], False)
    return not top and _is_aggregate(node)


# --------------------------------------------------------------------------- compiler


class _Compiler:
    def __init__(self, custom_fields: Mapping[str, CustomFieldType], zone: ZoneInfo, now: datetime):
        self.custom = custom_fields
        self.zone = zone
        self.now = now
        self.today = now.replace(tzinfo=UTC).astimezone(zone).date()
        self.probing = False  # see id_column()
        self.sqlite = False  # ids() for SQLite (count_statement): no driven_by()

    # ---- groups

    def node(self, node: dict, top: bool = False) -> ColumnElement[bool]:
        if "all" in node:
            children = [self.node(child, top=top) for child in node["all"]]
            return and_(*children) if children else true()
        if "any" in node:
            children = [self.node(child) for child in node["any"]]
            return or_(*children) if children else false()
        if "not" in node:
            return not_(self.node(node["not"]))
        if "field" in node:
            return self.field(node)
        if "list" in node:
            return self.list_(node)
        if "activity" in node:
            return self.activity(node, top)
        return self.event(node, top)

    # ---- membership in a set of contacts

    def member(self, table, *where: ColumnElement, source=None) -> ColumnElement[bool]:
        """Contacts with a row in `table` (by contact_id) meeting `where`; `source` is
        the FROM clause when it is a join."""
        if table.c.contact_id.nullable:  # NOT IN over a set holding NULL is never true
            where = (table.c.contact_id.is_not(None), *where)
        ids = (
            select(table.c.contact_id)
            .select_from(table if source is None else source)
            .where(*where)
        )
        probe = exists(
            select(literal_column("1"))
            .select_from(table if source is None else source)
            .where(table.c.contact_id == contacts.c.id, *where)
        )
        return _Either(self.id_column().in_(ids), probe)

    def id_column(self) -> ColumnElement:
        """contacts.id as a set membership tests it: on SQLite not through the primary
        key while `probing` (another condition reads an index; see ids())."""
        return _NoIndex(contacts.c.id) if self.probing else contacts.c.id

    def aggregate(
        self,
        table,
        where: list[ColumnElement],
        having,
        zero_matches: bool,
        top: bool,
    ) -> ColumnElement[bool]:
        """Contacts whose rows of `table` meeting `where` satisfy `having(aggregates)`;
        `zero_matches`: whether a contact without any such row matches."""
        contact_id = table.c.contact_id
        group = select(contact_id).where(contact_id.is_not(None), *where).group_by(contact_id)
        self.last_group = (group.having(having), zero_matches)
        if zero_matches:
            others = group.having(not_(having))
            sqlite_form = not_(self.id_column().in_(others))
        else:
            sqlite_form = self.id_column().in_(group.having(having))
        if top and not zero_matches:
            return sqlite_form  # a semi join on PostgreSQL too
        if top:  # an anti join on PostgreSQL
            sub = others.subquery()
            return _Either(
                sqlite_form,
                ~exists(select(literal_column("1")).where(sub.c.contact_id == contacts.c.id)),
            )
        probe = exists(
            select(literal_column("1")).where(contact_id == contacts.c.id, *where).having(having)
        )
        return _Either(sqlite_form, probe)

    # ---- PostgreSQL: aggregates under ANY/NOT as joins and set operations

    def pg_root(self, node: dict) -> ColumnElement[bool]:
        """The tree as a condition whose aggregates are semi/anti joins (top-level AND)."""
        if "all" in node:
            preds = [self.pg_pred(child) for child in node["all"]]
            return and_(*preds) if preds else true()
        return contacts.c.id.in_(self.ids(node))

    def pg_pred(self, node: dict) -> ColumnElement[bool]:
        if not _has_aggregate(node) or not ("any" in node or "not" in node or "all" in node):
            return self.node(node, top=True)
        return self.pg_root(node)

    def ids(self, node: dict, *, distinct: bool = True) -> Select | CompoundSelect:
        """SELECT of the ids of the contacts a node matches, aggregates under an ANY as a
        UNION of id sets (PostgreSQL; on SQLite for counting an ANY). `distinct=False`:
        a UNION ALL of a top ANY for count(DISTINCT) (nested, it can make PostgreSQL
        plan correlated subplans that run once per row)."""
        if "any" in node and _has_aggregate(node):
            plain = [child for child in node["any"] if not _has_aggregate(child)]
            parts: list[Select] = []
            for child in node["any"]:
                if _has_aggregate(child):
                    part = self.ids(child, distinct=distinct)
                    # a nested ANY's union joins this one (SQLite allows no parentheses)
                    parts.extend(part.selects if isinstance(part, CompoundSelect) else [part])
            if plain:
                # SQLite drives a query from a set membership (a row lookup per member)
                # rather than from an index on a contacts column, even when the column
                # narrows it more: with such a column in the group, members only probe.
                self.probing = len(plain) == 1 and _indexed_field(plain[0])
                try:
                    rows = or_(*(self.node(child) for child in plain))
                finally:
                    self.probing = False
                parts.append(select(contacts.c.id).where(rows).correlate(None))
            if len(parts) == 1:
                return parts[0]
            return union(*parts) if distinct else union_all(*parts)
        if "not" in node and _has_aggregate(node):
            sub = self.ids(node["not"]).subquery()
            first = next(iter(sub.c))
            excluded = exists(select(literal_column("1")).where(first == contacts.c.id))
            return select(contacts.c.id).where(~excluded).correlate(None)
        if _is_aggregate(node):
            self.node(node, top=True)
            group, zero_matches = self.last_group
            if not zero_matches:
                return group.correlate(None)
        if "all" in node:
            driver = next((c for c in node["all"] if _small_aggregate(c)), None)
            if driver is not None and not self.sqlite:  # SQLite: a correlated probe per id
                return self.driven_by(driver, [c for c in node["all"] if c is not driver])
            return select(contacts.c.id).where(self.pg_root(node)).correlate(None)
        return select(contacts.c.id).where(self.node(node, top=True)).correlate(None)

    def driven_by(self, driver: dict, rest: list[dict]) -> Select:
        """The ids of an ALL read from one aggregate's (small) id set: a NOT beside it
        usually excludes a small group (unsubscribed, bounced), subtracted through its
        own index (an anti join) rather than by reading every other contact; the other
        conditions are looked up for the set's contacts."""
        group = self.ids(driver).subquery()
        cid = next(iter(group.c))
        excluded = [c["not"] for c in rest if "not" in c and not _has_aggregate(c)]
        others = [c for c in rest if not ("not" in c and not _has_aggregate(c))]
        stmt = select(cid)

        def row(pred: ColumnElement[bool]):  # the set's contact (never an outer query's)
            probe = select(literal_column("1")).select_from(contacts)
            return exists(probe.where(contacts.c.id == cid, pred).correlate_except(contacts))

        if excluded:
            stmt = stmt.where(~row(or_(*(self.node(x) for x in excluded))))
        if others:
            stmt = stmt.where(row(self.pg_root({"all": others})))
        return stmt

    # ---- fields

    def field(self, node: dict) -> ColumnElement[bool]:
        name, op, value = node["field"], node["op"], node.get("value")
        ftype = field_type(name, self.custom)
        if name == "tags":
            return self.tags(op, value)
        if name.startswith("custom."):
            return self.custom_field(self.custom[name[7:]], ftype, op, value)
        spec = BY_NAME[name]
        col = contacts.c[spec.db_column]
        nullable = col.nullable
        if ftype == "ref":
            return self.ref(name, col, op, value)
        if op == "is_set":
            return self.is_set(col, ftype, nullable)
        if op == "is_not_set":
            return not_(self.is_set(col, ftype, nullable))
        if op in ("neq", "not_in", "not_contains"):
            return not_(self.scalar(col, ftype, _positive(op), value, spec.type, nullable))
        return self.scalar(col, ftype, op, value, spec.type, nullable)

    def is_set(self, col, ftype: str, nullable: bool = True) -> ColumnElement[bool]:
        if ftype == "text":
            return _known(col, col != "", nullable)
        return col.is_not(None) if nullable else true()

    def scalar(
        self, col, ftype: str, op: str, value: Any, kind: str, nullable: bool = True
    ) -> ColumnElement[bool]:
        """A positive comparison of a column holding one value (two-valued)."""
        if ftype == "text":
            exact = kind in _NORMALISED or kind == "select"
            return _known(col, _text_pred(col, op, value, exact=exact), nullable)
        if ftype == "number":
            return _known(col, _compare(col, op, value), nullable)
        if ftype == "date":
            return _known(col, self.date_pred(col, op, value, kind == "datetime"), nullable)
        if ftype == "boolean":
            return _known(col, col.is_(True) if op == "is_true" else col.is_(False), nullable)
        raise AssertionError(ftype)  # pragma: no cover

    def date_pred(self, col, op: str, value: Any, is_datetime: bool) -> ColumnElement[bool]:
        if op in ("within_last_days", "more_than_days_ago"):
            if is_datetime:
                start, end = self.now - timedelta(days=value), self.now
            else:
                start, end = self.today - timedelta(days=value), self.today
            if op == "within_last_days":
                return and_(col >= start, col <= end)
            return col < start
        if op == "between":
            first, last = (date.fromisoformat(v) for v in value)
        else:
            first = last = date.fromisoformat(value)
        after_last = _next(last)
        if not is_datetime:
            if op == "before":
                return col < first
            if op == "after":
                return col > last
            return and_(col >= first, col <= last)
        low = _start_utc(first, self.zone)
        high = _start_utc(after_last, self.zone) if after_last else None
        if op == "before":
            return col < low
        if op == "after":
            return col >= high if high else false()
        return and_(col >= low, col < high) if high else col >= low

    def ref(self, name: str, col, op: str, value: Any) -> ColumnElement[bool]:
        if op == "is_set":
            return col.is_not(None)
        if op == "is_not_set":
            return col.is_(None)
        values = value if isinstance(value, list) else [value]
        table, key = _REF_TABLES[name]
        ids = [v for v in values if isinstance(v, int)]
        keys = [v for v in values if isinstance(v, str)]
        preds = []
        if ids:
            preds.append(col.in_(ids) if len(ids) > 1 else col == ids[0])
        if keys:
            if name == "company":
                match = _lower(table.c[key]).in_([_lower(literal(k, String())) for k in keys])
            else:
                match = table.c[key].in_(keys)
            preds.append(col.in_(select(table.c.id).where(match)))
        positive = _known(col, or_(*preds))
        return not_(positive) if op in ("neq", "not_in") else positive

    def tags(self, op: str, value: Any) -> ColumnElement[bool]:
        if op in ("is_set", "is_not_set"):
            has = self.member(_contact_tags)
            return has if op == "is_set" else not_(has)

        def having(names: list[str]) -> ColumnElement[bool]:
            keys = [n.casefold() for n in names]
            return self.member(
                _contact_tags,
                _tags.c.key.in_(keys) if len(keys) > 1 else _tags.c.key == keys[0],
                source=_contact_tags.join(_tags, _tags.c.id == _contact_tags.c.tag_id),
            )

        if op == "contains":
            return having([value])
        if op == "not_contains":
            return not_(having([value]))
        if op == "contains_any":
            return having(value)
        return and_(*(having([v]) for v in value))  # contains_all

    def custom_field(
        self, info: CustomFieldType, ftype: str, op: str, value: Any
    ) -> ColumnElement[bool]:
        col = _cfv.c[value_column(info.type)]

        def has(pred: ColumnElement | None = None) -> ColumnElement[bool]:
            where = [_cfv.c.field_id == info.id]
            if pred is not None:
                where.append(pred)
            return self.member(_cfv, *where)

        if op == "is_set":
            return has(self.is_set(col, ftype))
        if op == "is_not_set":
            return not_(has(self.is_set(col, ftype)))
        if ftype == "multi":
            if op == "contains":
                return has(col == value)
            if op == "not_contains":
                return not_(has(col == value))
            if op == "contains_any":
                return has(col.in_(value))
            return and_(*(has(col == v) for v in value))  # contains_all
        if ftype == "boolean":
            true_ = has(col.is_(True))
            return true_ if op == "is_true" else not_(true_)
        if op in ("neq", "not_in", "not_contains"):
            return not_(has(self.scalar(col, ftype, _positive(op), value, info.type)))
        return has(self.scalar(col, ftype, op, value, info.type))

    # ---- lists, activities, events

    def list_(self, node: dict) -> ColumnElement[bool]:
        ref = node["list"]
        source = None
        if isinstance(ref, int):
            where = [_memberships.c.list_id == ref]
        else:
            source = _memberships.join(_lists, _lists.c.id == _memberships.c.list_id)
            where = [_lower(_lists.c.name) == _lower(literal(ref, String()))]
        if node.get("status"):
            where.append(_memberships.c.status == node["status"])
        return self.member(_memberships, *where, source=source)

    def window(self, node: dict, indexed: bool = True) -> list[ColumnElement]:
        days = node.get("within_days")
        if days is None:
            return []
        occurred = _activities.c.occurred_at if indexed else _NoIndex(_activities.c.occurred_at)
        return [occurred >= self.now - timedelta(days=days), occurred <= self.now]

    def counted(
        self, where: list[ColumnElement], op: str, value: Any, top: bool
    ) -> ColumnElement[bool]:
        """Contacts whose number of activities meeting `where` satisfies (op, value)."""
        shape = _count_shape(op, value)
        if shape == "some":
            return self.member(_activities, *where)
        if shape == "none":
            return not_(self.member(_activities, *where))
        zero = holds(op, value, 0)
        return self.aggregate(_activities, where, _compare(func.count(), op, value), zero, top)

    def activity(self, node: dict, top: bool) -> ColumnElement[bool]:
        where = [_activities.c.kind == node["activity"], *self.window(node)]
        for key, cond in (node.get("where") or {}).items():
            where.append(self.where_cond(key, cond))
        count_ = node["count"]
        return self.counted(where, count_["op"], count_["value"], top)

    def where_cond(self, key: str, cond: dict) -> ColumnElement[bool]:
        data = _activities.c.data
        op, value = cond["op"], cond.get("value")
        text = _JsonValue(data, key, "text")
        number = _JsonValue(data, key, "number")
        if op == "is_set":
            return or_(_known(text, text != ""), number.is_not(None))
        if op == "is_not_set":
            return not_(or_(_known(text, text != ""), number.is_not(None)))
        positive = _positive(op)
        if op in ("gt", "gte", "lt", "lte", "between") or (
            op in ("eq", "neq") and not isinstance(value, str)
        ):
            pred = _known(number, _compare(number, positive, value))
        else:
            pred = _known(text, _text_pred(text, positive, value, exact=False))
        return not_(pred) if op != positive else pred

    def event(self, node: dict, top: bool) -> ColumnElement[bool]:
        where = [
            # SQLite: not through a (kind | company, time) index but in contact order
            # through the covering event index (no sort, no table): see _NoIndex.
            _NoIndex(_activities.c.kind) == "custom_event",
            _activities.c.event_name == node["event"],
            *self.window(node, indexed=False),
        ]
        aggregate, op, value = node["aggregate"], node["op"], node["value"]
        if aggregate == "count":
            return self.counted(where, op, value, top)
        val = _activities.c.value
        if aggregate == "sum":
            total = func.coalesce(func.sum(val), 0.0)
            having = _compare(total, op, value)
            return self.aggregate(_activities, where, having, holds(op, value, 0), top)
        agg = getattr(func, aggregate)(val)
        having = _known(agg, _compare(agg, op, value))
        return self.aggregate(_activities, where, having, False, top)
