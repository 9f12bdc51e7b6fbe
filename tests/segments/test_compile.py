"""The compiled segment SQL returns exactly the contacts the plain-Python reference
evaluator (tests/segments/reference.py) returns: random contacts, activities and events,
random trees of depth >= 3 covering every operator; on SQLite, and on PostgreSQL when
DATABASE_URL points at one."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from app.auth.models import User
from app.companies.models import Company
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.extensions import db
from app.lists.models import ContactList, ListMembership
from app.segments import compile as segments
from app.segments.tree import (
    AGGREGATES,
    BOOLEAN_OPS,
    COUNT_OPS,
    DATE_OPS,
    MULTI_OPS,
    NUMBER_OPS,
    REF_OPS,
    TEXT_OPS,
    WHERE_OPS,
    CustomFieldType,
    parse,
)
from app.timeline.models import Activity
from tests.segments import reference

NOW = datetime(2025, 6, 15, 12, 30, 0)
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago")
USERS = {1: "anna@example.com", 2: "jonas@example.com"}
COMPANIES = {1: "Acme", 2: "Globex Ltd", 3: "ACME"}
LISTS = {1: "Newsletter", 2: "Customers", 3: "Beta testers"}
TAGS = ("VIP", "Prospect", "Newsletter", "churn risk", "été")
CUSTOM = {
    "plan": CustomFieldType(1, "select", ("free", "pro", "team")),
    "seats": CustomFieldType(2, "number"),
    "renewal": CustomFieldType(3, "date"),
    "newsletter": CustomFieldType(4, "boolean"),
    "langs": CustomFieldType(5, "multiselect", ("en", "fr", "de")),
    "note": CustomFieldType(6, "text"),
}
# Text with ASCII capitals, lower-case accents (folded alike by every database: see
# reference.py), LIKE wildcards and the escape character.
TEXTS = ("Anna", "anna", "ANNA", "Anne-Marie", "ann", "élise", "Zoë", "o'brien", "50%_off",
         "50%", "a/b", "Jonas", "", None)  # fmt: skip
TEXT_VALUES = ("anna", "ANN", "an", "Anne-Marie", "élise", "zoë", "o'", "%", "_", "50%_",
               "/", "a/b", "jonas", "x")  # fmt: skip
EMAIL_PREFIXES = ("anna", "jonas", "élise", "o.brien", "x_y", "50pct")
COUNTRIES = (None, "FR", "DE", "US")
STATUSES = ("active", "inactive", "bounced", "replied")
CONSENTS = ("opted_in", "opted_out", "unknown")
SCORES = (0, 10, 50, 99, 100)
NUMBERS = (0, 10, 50, 50.5, 99, 100, -1)
DAY_OFFSETS = (-800, -400, -91, -90, -31, -30, -7, -1, 0, 1, 30, 400)
DAYS = (0, 1, 7, 30, 90, 365, 1000)
KINDS = ("email_opened", "email_clicked", "call", "custom_event")
URLS = ("https://example.com/pricing", "https://example.com/PRICING?a=1", "/blog/50%_off", "")
EVENTS = ("purchase", "signup")
EVENT_VALUES = (None, 10, 99.5, 500, 1000, 0)

Pick = Callable[[Sequence[Any]], Any]
Int = Callable[[int, int], int]


# --------------------------------------------------------------------------- worlds


def _when(pick: Pick, rint: Int) -> datetime:
    """A datetime within about two years of NOW, often near a day or window boundary."""
    shape = pick(("any", "midnight", "window"))
    if shape == "any":
        return NOW + timedelta(seconds=rint(-2 * 365 * 86400, 400 * 86400))
    if shape == "midnight":  # around local midnights of the test timezones
        day = NOW.date() + timedelta(days=pick(DAY_OFFSETS))
        return datetime.combine(day, datetime.min.time()) + timedelta(hours=rint(-14, 14))
    return NOW - timedelta(days=pick(DAYS)) + timedelta(seconds=pick((-1, 0, 1, 3600)))


def build_world(pick: Pick, rint: Int, n: int | None = None) -> dict:
    """Contacts with fields, tags, lists, custom values, activities and events."""
    contacts = []
    for i in range(rint(0, 14) if n is None else n):
        custom: dict[str, list] = {}
        if pick((True, False)):
            custom["plan"] = [pick(("free", "pro", "team"))]
        if pick((True, False)):
            custom["seats"] = [float(pick(NUMBERS))]
        if pick((True, False)):
            custom["renewal"] = [NOW.date() + timedelta(days=pick(DAY_OFFSETS))]
        if pick((True, False)):
            custom["newsletter"] = [pick((True, False))]
        langs = sorted({pick(("en", "fr", "de")) for _ in range(rint(0, 3))})
        if langs:
            custom["langs"] = langs
        if pick((True, False)):
            note = pick(TEXTS)
            if note is not None:
                custom["note"] = [note]
        activities = []
        for _ in range(rint(0, 6)):
            kind = pick(KINDS)
            data: Any = None
            event_name = value = None
            if kind == "email_clicked":
                data = pick(({"url": pick(URLS)}, {"url": 5}, {}, None, {"url": None}))
            elif kind == "call":
                data = pick(({"duration": pick((30, 90.5, 600))}, {"duration": "long"}, None))
            elif kind == "custom_event":
                event_name = pick(EVENTS)
                value = pick(EVENT_VALUES)
                data = pick((None, {"sku": pick(("A-1", "b-2"))}))
            activities.append(
                {
                    "kind": kind,
                    "occurred_at": _when(pick, rint),
                    "data": data,
                    "event_name": event_name,
                    "value": None if value is None else float(value),
                }
            )
        contacts.append(
            {
                "id": i + 1,
                "email": f"{pick(EMAIL_PREFIXES)}{i}@example.com",
                "first_name": pick(TEXTS),
                "city": pick(TEXTS),
                "country": pick(COUNTRIES),
                "status": pick(STATUSES),
                "consent_status": pick(CONSENTS),
                "lead_score": pick(SCORES),
                "owner_id": pick((None, 1, 2)),
                "company_id": pick((None, 1, 2, 3)),
                "created_at": _when(pick, rint),
                "last_activity_at": pick((None, _when(pick, rint))),
                "birthday": pick((None, NOW.date() + timedelta(days=pick(DAY_OFFSETS)))),
                "archived_at": pick((None, None, None, NOW)),
                "tags": sorted({pick(TAGS) for _ in range(rint(0, 3))}),
                "lists": {
                    pick(tuple(LISTS)): pick(("subscribed", "unsubscribed", "pending"))
                    for _ in range(rint(0, 2))
                },
                "custom": custom,
                "activities": activities,
            }
        )
    return {
        "contacts": contacts,
        "users": USERS,
        "companies": COMPANIES,
        "lists": LISTS,
        "custom_fields": CUSTOM,
    }


# --------------------------------------------------------------------------- trees

FIELDS = {  # field -> (type, value kind)
    "first_name": ("text", "free"),
    "city": ("text", "free"),
    "email": ("text", "email"),
    "country": ("text", "country"),
    "status": ("text", "status"),
    "consent_status": ("text", "consent"),
    "custom.note": ("text", "free"),
    "custom.plan": ("text", "plan"),
    "lead_score": ("number", None),
    "custom.seats": ("number", None),
    "created_at": ("date", None),
    "last_activity_at": ("date", None),
    "birthday": ("date", None),
    "custom.renewal": ("date", None),
    "custom.newsletter": ("boolean", None),
    "tags": ("multi", "tag"),
    "custom.langs": ("multi", "lang"),
    "owner": ("ref", "owner"),
    "company": ("ref", "company"),
}
OPS = {"text": TEXT_OPS, "number": NUMBER_OPS, "date": DATE_OPS, "boolean": BOOLEAN_OPS,
       "multi": MULTI_OPS, "ref": REF_OPS}  # fmt: skip
TEXT_POOLS = {  # kind -> (values for eq/neq/in/not_in, values for contains & co)
    "free": (TEXT_VALUES, TEXT_VALUES),
    "email": (
        ("anna0@example.com", "ANNA0@example.com", "jonas1@example.com", "x_y2@example.com"),
        ("anna", "@example", ".com", "x_y", "ANNA"),
    ),
    "country": (("FR", "de", "US", "France"), ("FR", "r", "u", "x")),
    "status": (("active", "Inactive", "bounced"), ("active", "act", "ed", "%")),
    "consent": (("opted_in", "Opted Out", "unknown"), ("opted", "_in", "UNK")),
    "plan": (("pro", "Team", "free", "gold"), ("pr", "e", "TEAM")),
}
MULTI_POOLS = {"tag": ("vip", "VIP", "prospect", "Newsletter", "été", "ÉTÉ", "none"),
               "lang": ("en", "fr", "de", "FR", "xx")}  # fmt: skip
REF_POOLS = {
    "owner": (1, 2, 3, "anna@example.com", "JONAS@example.com", "nobody@example.com"),
    "company": (1, 2, 3, "acme", "Globex Ltd", "nope"),
}


def _some(pick: Pick, rint: Int, pool: Sequence[Any]) -> list:
    return [pick(pool) for _ in range(rint(1, 3))]


def _pair(pick: Pick, pool: Sequence[Any]) -> list:
    a, b = pick(pool), pick(pool)
    return sorted([a, b])


def field_leaf(pick: Pick, rint: Int, name: str, op: str | None = None) -> dict:
    ftype, kind = FIELDS[name]
    op = op or pick(OPS[ftype])
    leaf: dict[str, Any] = {"field": name, "op": op}
    if op in ("is_set", "is_not_set", "is_true", "is_false"):
        return leaf
    if ftype == "text":
        exact, like = TEXT_POOLS[kind]
        pool = exact if op in ("eq", "neq", "in", "not_in") else like
        leaf["value"] = _some(pick, rint, pool) if op in ("in", "not_in") else pick(pool)
    elif ftype == "number":
        leaf["value"] = _pair(pick, NUMBERS) if op == "between" else pick(NUMBERS)
    elif ftype == "date":
        if op in ("within_last_days", "more_than_days_ago"):
            leaf["value"] = pick(DAYS)
        else:
            days = [(NOW.date() + timedelta(days=d)).isoformat() for d in DAY_OFFSETS]
            leaf["value"] = _pair(pick, days) if op == "between" else pick(days)
    elif ftype == "multi":
        pool = MULTI_POOLS[kind]
        leaf["value"] = (
            _some(pick, rint, pool) if op in ("contains_any", "contains_all") else pick(pool)
        )
    else:
        pool = REF_POOLS[kind]
        leaf["value"] = _some(pick, rint, pool) if op in ("in", "not_in") else pick(pool)
    return leaf


def _count(pick: Pick, op: str | None = None) -> dict:
    op = op or pick(COUNT_OPS)
    pool = (0, 1, 2, 3)
    return {"op": op, "value": _pair(pick, pool) if op == "between" else pick(pool)}


def where_cond(pick: Pick, rint: Int, op: str | None = None) -> dict:
    op = op or pick(WHERE_OPS)
    if op in ("is_set", "is_not_set"):
        return {"op": op}
    numbers = (0, 30, 90.5, 600, 5)
    if op in ("gt", "gte", "lt", "lte"):
        return {"op": op, "value": pick(numbers)}
    if op == "between":
        return {"op": op, "value": _pair(pick, numbers)}
    texts = ("pricing", "PRICING", "https://", "50%_", "/blog", "long", "a-1")
    if op in ("in", "not_in"):
        return {"op": op, "value": _some(pick, rint, texts + URLS[:3])}
    if op in ("eq", "neq"):
        return {"op": op, "value": pick(texts + URLS[:3] + numbers)}
    return {"op": op, "value": pick(texts)}


def activity_leaf(pick: Pick, rint: Int, count_op: str | None = None) -> dict:
    leaf: dict[str, Any] = {"activity": pick(KINDS[:3])}
    if pick((True, False, False)) or count_op:
        leaf["count"] = _count(pick, count_op)
    if pick((True, False)):
        leaf["within_days"] = pick(DAYS)
    if pick((True, False)):
        key = pick(("url", "duration", "missing"))
        leaf["where"] = {key: where_cond(pick, rint)}
    return leaf


def event_leaf(pick: Pick, rint: Int, aggregate: str | None = None, op: str | None = None) -> dict:
    aggregate = aggregate or pick(AGGREGATES)
    op = op or pick(COUNT_OPS)
    pool = (0, 1, 2, 3) if aggregate == "count" else (0, 10, 99.5, 100, 500, 1000, 1510)
    leaf: dict[str, Any] = {
        "event": pick(EVENTS),
        "aggregate": aggregate,
        "op": op,
        "value": _pair(pick, pool) if op == "between" else pick(pool),
    }
    if pick((True, False)):
        leaf["within_days"] = pick(DAYS)
    return leaf


def list_leaf(pick: Pick) -> dict:
    leaf: dict[str, Any] = {"list": pick(("Newsletter", "customers", 3, "Unknown"))}
    status = pick((None, "any", "subscribed", "unsubscribed", "pending"))
    if status:
        leaf["status"] = status
    return leaf


def leaf(pick: Pick, rint: Int) -> dict:
    kind = pick(("field", "field", "field", "list", "activity", "event"))
    if kind == "field":
        return field_leaf(pick, rint, pick(tuple(FIELDS)))
    if kind == "list":
        return list_leaf(pick)
    if kind == "activity":
        return activity_leaf(pick, rint)
    return event_leaf(pick, rint)


def build_tree(pick: Pick, rint: Int, depth: int = 0) -> dict:
    """A random tree at least 3 groups deep on its first branch."""
    if depth >= 3 and (depth >= 5 or pick((True, False))):
        return leaf(pick, rint)
    kind = pick(("all", "any", "not"))
    if kind == "not":
        return {"not": build_tree(pick, rint, depth + 1)}
    children = [build_tree(pick, rint, depth + 1)]
    children += [leaf(pick, rint) for _ in range(rint(0, 2))]
    return {kind: children}


# --------------------------------------------------------------------------- loading


def load(world: dict) -> None:
    """Replace the database's contacts and everything around them with the world's."""
    tables = [Activity, ListMembership, ContactList, ContactTag, Tag, CustomFieldValue,
              CustomField, Contact, Company, User]  # fmt: skip
    with db.engine.begin() as conn:
        for model in tables:
            conn.execute(delete(model.__table__))
        conn.execute(
            insert(User.__table__),
            [
                {"id": i, "email": e, "password_hash": "x", "role": "member"}
                for i, e in USERS.items()
            ],
        )
        conn.execute(
            insert(Company.__table__), [{"id": i, "name": n} for i, n in COMPANIES.items()]
        )
        conn.execute(
            insert(ContactList.__table__), [{"id": i, "name": n} for i, n in LISTS.items()]
        )
        conn.execute(
            insert(Tag.__table__),
            [{"id": i, "name": n, "key": n.casefold()} for i, n in enumerate(TAGS, 1)],
        )
        conn.execute(
            insert(CustomField.__table__),
            [
                {
                    "id": f.id,
                    "name": name,
                    "label": name,
                    "type": f.type,
                    "options": list(f.options),
                }
                for name, f in CUSTOM.items()
            ],
        )
        contacts = world["contacts"]
        if not contacts:
            return
        columns = ("id", "email", "first_name", "city", "country", "status", "consent_status",
                   "lead_score", "owner_id", "company_id", "created_at", "last_activity_at",
                   "birthday", "archived_at")  # fmt: skip
        conn.execute(insert(Contact.__table__), [{k: c[k] for k in columns} for c in contacts])
        tag_ids = {n: i for i, n in enumerate(TAGS, 1)}
        rows = [{"contact_id": c["id"], "tag_id": tag_ids[t]} for c in contacts for t in c["tags"]]
        if rows:
            conn.execute(insert(ContactTag.__table__), rows)
        rows = [
            {"list_id": list_id, "contact_id": c["id"], "status": status}
            for c in contacts
            for list_id, status in c["lists"].items()
        ]
        if rows:
            conn.execute(insert(ListMembership.__table__), rows)
        columns = {"number": "value_number", "date": "value_date", "boolean": "value_bool"}
        rows = []
        for c in contacts:
            for name, values in c["custom"].items():
                field = CUSTOM[name]
                for v in values:
                    row = dict.fromkeys(("value_text", "value_number", "value_date", "value_bool"))
                    row[columns.get(field.type, "value_text")] = v
                    rows.append({"contact_id": c["id"], "field_id": field.id, **row})
        if rows:
            conn.execute(insert(CustomFieldValue.__table__), rows)
        rows = [
            {"contact_id": c["id"], **a, "data": a["data"]}
            for c in contacts
            for a in c["activities"]
        ]
        if rows:
            conn.execute(insert(Activity.__table__), rows)


def check(tree: dict, world: dict, timezone: str) -> set[int]:
    """Compiled SQL and reference agree on the tree; returns the matching ids."""
    normalised = parse(tree, CUSTOM)
    expected = reference.evaluate(normalised, world, timezone=timezone, now=NOW)
    stmt = segments.contact_ids(tree, CUSTOM, timezone=timezone, now=NOW)
    got = set(db.session.scalars(stmt))
    assert got == expected, f"tree {normalised} in {timezone}: SQL {got}, reference {expected}"
    counted = segments.count(db.session, tree, CUSTOM, timezone=timezone, now=NOW)
    assert counted == len(expected), f"tree {normalised}: count {counted} != {len(expected)}"
    return got


# --------------------------------------------------------------------------- tests


@st.composite
def worlds_and_trees(draw):
    def pick(seq):
        return draw(st.sampled_from(seq))

    def rint(lo, hi):
        return draw(st.integers(lo, hi))

    world = build_world(pick, rint)
    trees = [build_tree(pick, rint) for _ in range(5)]
    return world, trees, pick(TIMEZONES)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(case=worlds_and_trees())
def test_compiled_sql_matches_reference(app, case):
    world, trees, timezone = case
    with app.app_context():
        load(world)
        for tree in trees:
            check(tree, world, timezone)
        db.session.rollback()


def _every_leaf(pick: Pick, rint: Int) -> list[dict]:
    """At least one leaf per field and operator, count operator and aggregate."""
    leaves = []
    for name, (ftype, _) in FIELDS.items():
        for op in OPS[ftype]:
            leaves.append(field_leaf(pick, rint, name, op))
    for op in COUNT_OPS:
        leaves.append(activity_leaf(pick, rint, op))
    for op in WHERE_OPS:
        leaves.append({"activity": "email_clicked", "where": {"url": where_cond(pick, rint, op)}})
        leaves.append({"activity": "call", "where": {"duration": where_cond(pick, rint, op)}})
    for aggregate in AGGREGATES:
        for op in COUNT_OPS:
            leaves.append(event_leaf(pick, rint, aggregate, op))
    leaves += [list_leaf(pick) for _ in range(6)]
    return leaves


@pytest.mark.parametrize("seed", [1, 3])
def test_every_operator_at_depth_three(app, seed):
    """Each leaf inside all/any/not, on one larger random world per seed and timezone."""
    rng = random.Random(seed)

    def pick(seq):
        return rng.choice(list(seq))

    def rint(lo, hi):
        return rng.randint(lo, hi)

    world = build_world(pick, rint, n=60)
    timezone = TIMEZONES[seed % len(TIMEZONES)]
    with app.app_context():
        load(world)
        hits = 0
        for leaf_ in _every_leaf(pick, rint):
            other = leaf(pick, rint)
            for tree in (
                {"all": [{"any": [{"not": leaf_}]}]},
                {"any": [{"all": [leaf_, {"not": other}]}, {"not": {"not": leaf_}}]},
            ):
                hits += bool(check(tree, world, timezone))
        assert hits > 50  # the world is not degenerate


# --------------------------------------------------------------------------- examples


@pytest.fixture
def people(app, users):
    """Three contacts made through the contact service, with a list, activities and
    purchases: {"anna": id, "bob": id, "elise": id}."""
    from app.contacts.service import create_contact

    with app.app_context():
        for name, type_, options in (
            ("plan", "select", ["free", "pro"]),
            ("seats", "number", None),
        ):
            db.session.add(CustomField(name=name, label=name, type=type_, options=options))
        db.session.commit()
        ids = {
            "anna": create_contact(
                {"email": "Anna@Example.com", "first_name": "Anna", "country": "FR",
                 "lead_score": 80, "tags": ["VIP", "Newsletter"], "custom.plan": "pro",
                 "custom.seats": 5, "owner": users["member"].id},
                via="test",
            ).id,
            "bob": create_contact(
                {"email": "bob@example.com", "first_name": "Bob", "country": "DE",
                 "tags": ["prospect"], "custom.plan": "free", "company": "Acme"},
                via="test",
            ).id,
            "elise": create_contact({"email": "elise@example.com", "first_name": "Élise"}),
        }  # fmt: skip
        ids["elise"] = ids["elise"].id
        newsletter = ContactList(name="Newsletter")
        db.session.add(newsletter)
        db.session.flush()
        db.session.add_all(
            [
                ListMembership(list_id=newsletter.id, contact_id=ids["anna"], status="subscribed"),
                ListMembership(list_id=newsletter.id, contact_id=ids["bob"], status="pending"),
            ]
        )

        def act(who, kind, days_ago, **kw):
            db.session.add(
                Activity(
                    contact_id=ids[who], kind=kind, occurred_at=NOW - timedelta(days=days_ago), **kw
                )
            )

        act("anna", "email_opened", 3)
        act("anna", "email_opened", 20)
        act("bob", "email_opened", 45)
        act("bob", "email_clicked", 5, data={"url": "https://example.com/Pricing"})
        act("anna", "email_clicked", 5, data={"url": "https://example.com/blog"})
        act("anna", "custom_event", 30, event_name="purchase", value=600.0)
        act("anna", "custom_event", 200, event_name="purchase", value=500.0)
        act("bob", "custom_event", 120, event_name="purchase", value=100.0)
        db.session.commit()
    return ids


def _match(app, people, tree, **kw) -> set[str]:
    with app.app_context():
        custom = segments.custom_field_types(db.session)
        ids = set(db.session.scalars(segments.contact_ids(tree, custom, now=NOW, **kw)))
        assert segments.count(db.session, tree, custom, now=NOW, **kw) == len(ids)
    return {name for name, id_ in people.items() if id_ in ids}


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"field": "country", "op": "eq", "value": "fr"}, {"anna"}),
        ({"field": "country", "op": "neq", "value": "FR"}, {"bob", "elise"}),
        ({"field": "country", "op": "is_not_set"}, {"elise"}),
        ({"field": "email", "op": "eq", "value": "ANNA@example.com"}, {"anna"}),
        ({"field": "first_name", "op": "contains", "value": "LIS"}, {"elise"}),
        ({"field": "first_name", "op": "eq", "value": "bob"}, {"bob"}),
        ({"field": "first_name", "op": "not_in", "value": ["anna", "BOB"]}, {"elise"}),
        ({"field": "lead_score", "op": "gte", "value": 50}, {"anna"}),
        ({"field": "custom.plan", "op": "in", "value": ["Pro"]}, {"anna"}),
        ({"field": "custom.plan", "op": "neq", "value": "pro"}, {"bob", "elise"}),
        ({"field": "custom.seats", "op": "between", "value": [1, 5]}, {"anna"}),
        ({"field": "tags", "op": "contains", "value": "vip"}, {"anna"}),
        ({"field": "tags", "op": "contains_all", "value": ["VIP", "newsletter"]}, {"anna"}),
        ({"field": "tags", "op": "contains_any", "value": ["vip", "Prospect"]}, {"anna", "bob"}),
        ({"field": "tags", "op": "not_contains", "value": "vip"}, {"bob", "elise"}),
        ({"field": "tags", "op": "is_not_set"}, {"elise"}),
        ({"field": "owner", "op": "eq", "value": "member@example.com"}, {"anna"}),
        ({"field": "owner", "op": "is_set"}, {"anna"}),
        ({"field": "company", "op": "eq", "value": "ACME"}, {"bob"}),
        ({"field": "created_at", "op": "within_last_days", "value": 3650}, set()),
        ({"list": "newsletter"}, {"anna", "bob"}),
        ({"list": "Newsletter", "status": "subscribed"}, {"anna"}),
        ({"not": {"list": "Newsletter"}}, {"elise"}),
        ({"activity": "email_opened", "count": {"op": "gte", "value": 2}, "within_days": 30},
         {"anna"}),
        ({"activity": "email_opened", "within_days": 30}, {"anna"}),
        ({"activity": "email_opened", "count": {"op": "eq", "value": 0}}, {"elise"}),
        ({"activity": "email_clicked", "where": {"url": {"op": "contains", "value": "pricing"}},
          "count": {"op": "gte", "value": 1}}, {"bob"}),
        ({"event": "purchase", "aggregate": "sum", "op": "gte", "value": 1000,
          "within_days": 365}, {"anna"}),
        ({"event": "purchase", "aggregate": "sum", "op": "lt", "value": 1000}, {"bob", "elise"}),
        ({"event": "purchase", "op": "gte", "value": 2}, {"anna"}),
        ({"event": "purchase", "op": "eq", "value": 0, "within_days": 90}, {"bob", "elise"}),
        ({"event": "purchase", "aggregate": "avg", "op": "gt", "value": 200}, {"anna"}),
        ({"event": "purchase", "aggregate": "max", "op": "lt", "value": 550}, {"bob"}),
        ({"event": "purchase", "aggregate": "min", "op": "neq", "value": 100}, {"anna"}),
        ({"all": []}, {"anna", "bob", "elise"}),
        ({"any": []}, set()),
        ({"any": [{"all": [{"field": "country", "op": "eq", "value": "FR"},
                           {"not": {"event": "purchase", "op": "gte", "value": 1,
                                    "within_days": 90}}]},
                  {"field": "first_name", "op": "starts_with", "value": "É"}]}, {"elise"}),
    ],
)  # fmt: skip
def test_examples(app, people, tree, expected):
    assert _match(app, people, tree) == expected


def test_dates_are_calendar_days_in_the_segment_timezone(app, people):
    with app.app_context():
        db.session.execute(
            Contact.__table__.update()
            .where(Contact.id == people["anna"])
            .values(created_at=datetime(2025, 1, 1, 23, 30))  # Jan 2, 00:30 in Paris
        )
        db.session.commit()
    tree = {"field": "created_at", "op": "after", "value": "2025-01-01"}
    assert "anna" not in _match(app, people, tree)
    assert "anna" in _match(app, people, tree, timezone="Europe/Paris")
    on_the_day = {"field": "created_at", "op": "between", "value": ["2025-01-01", "2025-01-01"]}
    assert "anna" in _match(app, people, on_the_day)
    assert "anna" not in _match(app, people, on_the_day, timezone="Europe/Paris")


def test_archived_contacts_are_left_out(app, people):
    with app.app_context():
        db.session.execute(
            Contact.__table__.update().where(Contact.id == people["bob"]).values(archived_at=NOW)
        )
        db.session.commit()
    assert _match(app, people, {"all": []}) == {"anna", "elise"}


def test_validate_knows_the_lists_and_custom_fields(app, people):
    from app.segments.tree import TreeError

    with app.app_context():
        tree = {
            "all": [{"list": "NEWSLETTER"}, {"field": "custom.plan", "op": "eq", "value": "PRO"}]
        }
        assert segments.validate(db.session, tree)["all"][1]["value"] == "pro"
        with pytest.raises(TreeError, match=r'all\[0\].list: unknown list "Partners"'):
            segments.validate(db.session, {"all": [{"list": "Partners"}]})
        with pytest.raises(TreeError, match='unknown custom field "size"'):
            segments.validate(db.session, {"field": "custom.size", "op": "gt", "value": 1})
        with pytest.raises(TreeError, match="timezone"):
            segments.validate(db.session, {"all": []}, timezone="Nowhere/City")


@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_extreme_dates(app, people, timezone):
    first, last = "0001-01-01", "9999-12-31"
    trees = {
        "before_first": ({"field": "created_at", "op": "before", "value": first}, set()),
        "after_last": ({"field": "created_at", "op": "after", "value": last}, set()),
        "all_time": (
            {"field": "created_at", "op": "between", "value": [first, last]},
            {"anna", "bob", "elise"},
        ),
        "birthday": ({"field": "birthday", "op": "between", "value": [first, last]}, set()),
        "long_ago": (
            {"field": "created_at", "op": "more_than_days_ago", "value": 36500},
            set(),
        ),
    }
    for tree, expected in trees.values():
        assert _match(app, people, tree, timezone=timezone) == expected
