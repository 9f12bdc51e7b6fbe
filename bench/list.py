"""`kontor bench list`: how fast is the contact list on a big database?

In a fresh temporary instance (its own folder and SQLite file), it migrates, creates
users, seeds N contacts, logs in through the login form and times a deterministic mix
of list requests through the real app: search terms, combined filters, sorts and deep
keyset pages. Each request shape is timed three ways: the list page as htmx asks for it
(the figure of the goal), the same query through the API, and the live count the page
loads beside it. As a baseline it times the same queries without HTTP (fetch_page and
count) and, for the slowest, shows SQLite's query plan.

The instance is deleted afterwards; KONTOR_BENCH_KEEP=1 keeps it (its path goes to stderr).
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from random import Random
from typing import Any
from urllib.parse import urlencode

from app.benchmarks import environ, migrate_quietly

GOAL_P95_MS = 30
PAGE = 50
WARMUP = 5
USERS = ("admin", "anna", "jonas", "lucia", "piotr")  # the admin and four sales reps


@dataclass
class Shape:
    """One request of the mix: URL arguments, a label for grouping, and for deep pages
    how many pages to follow first."""

    label: str
    args: dict[str, list[str]]
    depth: int = 0
    cursor: str | None = None


@dataclass
class Timing:
    shape: Shape
    url: str
    page_ms: float
    api_ms: float
    count_ms: float
    sql_ms: float
    sql_count_ms: float
    statements: int
    slowest_sql: tuple[str, Any] | None = None
    plan: list[str] = field(default_factory=list)


def run(contacts: int = 1_000_000, requests: int = 200, as_json: bool = False) -> dict[str, Any]:
    """Seed `contacts` into a fresh instance, time `requests` list requests, print the
    figures (JSON with as_json) and return them."""
    keep = os.environ.get("KONTOR_BENCH_KEEP") == "1"
    folder = tempfile.mkdtemp(prefix="kontor-bench-")

    def say(message: str) -> None:
        if not as_json:
            print(message, file=sys.stderr)

    try:
        result = _run(folder, contacts, requests, as_json, say)
    finally:
        if keep:
            print(f"Instance kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(_summary(result))
    return result


def _fresh_app(folder: str):
    """A Kontor app on its own instance folder and SQLite file (never DATABASE_URL)."""
    from app import create_app
    from app.config import Config

    with environ(KONTOR_INSTANCE=folder):
        config = Config()
    return create_app(
        config,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.join(folder, 'kontor.db')}",
        RATELIMIT_ENABLED=False,
        RATELIMIT_STORAGE_URI="memory://",
        REDIS_URL=None,
    )


def _run(folder: str, n: int, r: int, as_json: bool, say: Callable[[str], None]) -> dict:

    from app.auth.models import ApiToken, User
    from app.extensions import db
    from app.seed import seed

    app = _fresh_app(folder)
    with app.app_context():
        migrate_quietly()
        password = "bench-password-1"
        for name in USERS:
            user = User(
                email=f"{name}@example.com",
                name=name.title(),
                role="admin" if name == "admin" else "member",
            )
            user.set_password(password)
            db.session.add(user)
        db.session.commit()
        admin = db.session.scalar(db.select(User).where(User.email == "admin@example.com"))
        token_row, token = ApiToken.issue(admin, "bench")
        db.session.add(token_row)
        db.session.commit()
        admin_id = admin.id

        say(f"Seeding {n:,} contacts into {folder} ...")
        counts = seed(contacts=n, activities=0, seed=1, progress=not as_json)
        say(f"Seeded in {counts['seconds']} s. Timing {r} list requests ...")
        shapes = _shapes(r, admin_id)
        _follow_cursors(shapes, admin_id)

    # This process has just built a million rows; a server process has not. Collect
    # that garbage once and freeze what is left, so full GC passes over the seeding
    # heap do not land inside timed requests.
    gc.collect()
    gc.freeze()
    # Requests run outside any app context of ours: each gets its own, as in production.
    client = app.test_client()
    _login(client, "admin@example.com", password)
    timings = _measure(app, client, token, shapes, admin_id, say)
    with app.app_context():
        _explain_slowest(timings)
        db.engine.dispose()
    return _report(n, r, counts, timings)


def _login(client, email: str, password: str) -> None:
    """Log in through the form, with its CSRF token, as a person does."""
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not match:
        raise RuntimeError("no CSRF token on the login page")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": match.group(1)}
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed ({response.status_code})")


# ------------------------------------------------------------------ the request mix


def _shapes(count: int, admin_id: int) -> list[Shape]:
    """A deterministic mix of list requests over the seeded data."""
    from app.extensions import db
    from app.seed import BRAND_HEADS, COUNTRIES
    from app.timeutil import utcnow

    rng = Random(20240601)
    today = utcnow().date()
    user_ids = list(db.session.scalars(db.text("SELECT id FROM users ORDER BY id")))
    company_ids = list(
        db.session.scalars(
            db.text(
                "SELECT company_id FROM contacts WHERE company_id IS NOT NULL "
                "GROUP BY company_id ORDER BY count(*) DESC LIMIT 20"
            )
        )
    )
    firsts = [name for c in COUNTRIES for name in (*c.female, *c.male)]
    lasts = [name for c in COUNTRIES for name in c.last]
    trades = [word for c in COUNTRIES for word, _ in c.trades]

    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).isoformat()

    searches: list[tuple[str, Callable[[], str]]] = [
        ("search:first-prefix", lambda: rng.choice(firsts)[: rng.choice((2, 3, 4))]),
        ("search:last-name", lambda: rng.choice(lasts)),
        ("search:company-word", lambda: rng.choice((*trades, *BRAND_HEADS))),
        ("search:email", lambda: rng.choice(("gmail", "gmx.de", "orange.fr", "wp.pl", "yahoo"))),
        ("search:first+last", lambda: f"{rng.choice(firsts)} {rng.choice(lasts)[:3]}"),
    ]
    filters: list[tuple[str, Callable[[], dict[str, list[str]]]]] = [
        ("filter:status+tag", lambda: {"status": ["active"], "tag": [rng.choice(_tags())]}),
        (
            "filter:owner+score",
            lambda: {
                "owner": [str(rng.choice(user_ids))],
                "score_min": ["50"],
                "score_max": [str(rng.choice((70, 80, 100)))],
            },
        ),
        ("filter:source", lambda: {"source": [rng.choice(_sources())]}),
        (
            "filter:consent+created",
            lambda: {
                "consent": ["opted_in"],
                "created_from": [day(rng.randrange(200, 900))],
                "created_to": [day(rng.randrange(0, 150))],
            },
        ),
        ("filter:activity-30d", lambda: {"activity_from": [day(30)]}),
        (
            "filter:contacted-range",
            lambda: {"contacted_from": [day(180)], "contacted_to": [day(90)]},
        ),
        ("filter:cf-plan", lambda: {"cf.plan": [rng.choice(("pro", "team"))]}),
        ("filter:cf-seats", lambda: {"cf.seats.min": [str(rng.choice((10, 20, 40)))]}),
        (
            "filter:cf-renewal",
            lambda: {"cf.renewal_date.from": [day(0)], "cf.renewal_date.to": [day(-60)]},
        ),
        (
            "filter:cf-newsletter+status",
            lambda: {"cf.newsletter": ["true"], "status": ["active"]},
        ),
        ("filter:company", lambda: {"company": [str(rng.choice(company_ids or [1]))]}),
        ("filter:two-tags", lambda: {"tag": ["newsletter", rng.choice(("vip", "prospect"))]}),
        ("filter:rare-status", lambda: {"status": [rng.choice(("blocked", "bounced"))]}),
    ]
    sorts = ("-created_at", "last_name", "lead_score", "-lead_score", "-last_activity_at",
             "first_name", "-updated_at")  # fmt: skip

    out: list[Shape] = []
    for i in range(count):
        roll = rng.random()
        sort = rng.choice(sorts)
        if roll < 0.30:
            label, term = rng.choice(searches)
            args = {"q": [term()]}
            if rng.random() < 0.3:
                args["sort"] = [sort]
                label += f" sort={sort}"
        elif roll < 0.60:
            label, make = rng.choice(filters)
            args = make()
            if rng.random() < 0.5:
                args["sort"] = [sort]
                label += f" sort={sort}"
        elif roll < 0.70:
            label, args = f"sort:{sort}", {"sort": [sort]}
        elif roll < 0.80:
            s_label, term = rng.choice(searches)
            f_label, make = rng.choice(filters)
            args = {"q": [term()], **make()}
            label = f"{s_label}+{f_label}"
        else:
            depth = rng.randrange(20, 201)
            if rng.random() < 0.5:
                label, args = f"deep:sort={sort}", {"sort": [sort]}
            else:
                f_label, make = rng.choice(filters[:6])
                args = {**make(), "sort": [sort]}
                label = f"deep:{f_label} sort={sort}"
            out.append(Shape(label, args, depth=depth))
            continue
        if i % 11 == 0:
            args["limit"] = ["100"]
        out.append(Shape(label, args))
    return out


def _tags() -> list[str]:
    from app.seed import TAGS

    return [name.casefold() for name, _, _ in TAGS]


def _sources() -> list[str]:
    from app.seed import SOURCES

    return [name for name, _ in SOURCES]


def _parse(shape: Shape, admin_id: int):
    from app.contacts.query import parse_args
    from app.contacts.related import custom_field_infos
    from app.extensions import db

    infos = custom_field_infos(db.session)
    args = dict(shape.args)
    if shape.cursor:
        args["cursor"] = [shape.cursor]
    cq, notices = parse_args(args, infos, me_id=admin_id, default_limit=PAGE)
    if notices:
        raise RuntimeError(f"bench request {shape.args} has notices: {notices}")
    return cq, infos


def _follow_cursors(shapes: list[Shape], admin_id: int) -> None:
    """Walk each deep shape to its page by following next_cursor. A keyset cursor only
    depends on the last row of a page, so it strides 500 rows at a time, then 50."""
    from app.contacts.query import MAX_LIMIT, fetch_page
    from app.extensions import db

    for shape in shapes:
        if not shape.depth:
            continue
        rows_before = (shape.depth - 1) * PAGE
        cursor, skipped = None, 0
        while skipped < rows_before:
            step = MAX_LIMIT if rows_before - skipped >= MAX_LIMIT else PAGE
            walk = Shape(shape.label, {**shape.args, "limit": [str(step)]}, cursor=cursor)
            cq, infos = _parse(walk, admin_id)
            _, next_cursor = fetch_page(db.session, cq, infos)
            db.session.expunge_all()
            if next_cursor is None:  # fewer rows than asked: time the last full stride
                break
            cursor, skipped = next_cursor, skipped + step
        shape.cursor = cursor
        shape.label += f" page={skipped // PAGE + 1}"


# ------------------------------------------------------------------ measuring


class _Statements:
    """SQL statements run on the engine while active: count and the slowest one."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.engine = engine
        self.active = False
        self.count = 0
        self.slowest: tuple[float, str, Any] | None = None
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.count, self.slowest = 0, None

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self.active:
            return
        self.count += 1
        took = time.perf_counter() - self._started
        if self.slowest is None or took > self.slowest[0]:
            self.slowest = (took, statement, parameters)

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def _measure(app, client, token: str, shapes: list[Shape], admin_id: int, say) -> list[Timing]:
    from app.contacts.query import count, fetch_page
    from app.extensions import db

    htmx = {"HX-Request": "true"}
    api = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        statements = _Statements(db.engine)
    timings: list[Timing] = []
    try:
        for warm in shapes[:WARMUP]:
            _get(client, "/contacts/", warm, htmx)
        for i, shape in enumerate(shapes, 1):
            statements.reset()
            statements.active = True
            page_ms = _get(client, "/contacts/", shape, htmx)
            statements.active = False
            n_statements = statements.count
            api_ms = _get(client, "/api/v1/contacts", shape, api)
            count_args = {k: v for k, v in shape.args.items() if k != "limit"}
            count_ms = _get(client, "/contacts/count", Shape(shape.label, count_args), htmx)
            with app.app_context():  # the same queries without HTTP, as a baseline
                cq, infos = _parse(shape, admin_id)
                statements.reset()
                statements.active = True
                started = time.perf_counter()
                fetch_page(db.session, cq, infos)
                sql_ms = (time.perf_counter() - started) * 1000
                statements.active = False
                slowest = statements.slowest
                started = time.perf_counter()
                count(db.session, cq)
                sql_count_ms = (time.perf_counter() - started) * 1000
            timings.append(
                Timing(
                    shape=shape,
                    url=f"/contacts/?{_query(shape)}",
                    page_ms=page_ms,
                    api_ms=api_ms,
                    count_ms=count_ms,
                    sql_ms=sql_ms,
                    sql_count_ms=sql_count_ms,
                    statements=n_statements,
                    slowest_sql=(slowest[1], slowest[2]) if slowest else None,
                )
            )
            if i % 50 == 0:
                say(f"  {i}/{len(shapes)} requests")
    finally:
        statements.close()
    return timings


def _query(shape: Shape) -> str:
    args = dict(shape.args)
    if shape.cursor:
        args["cursor"] = [shape.cursor]
    return urlencode(args, doseq=True)


def _get(client, path: str, shape: Shape, headers: dict[str, str]) -> float:
    """Milliseconds for one GET through the app (the test client calls it in-process)."""
    url = f"{path}?{_query(shape)}"
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    response.get_data()
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return took


def _explain_slowest(timings: list[Timing], top: int = 5) -> None:
    """SQLite's plan for the slowest statement of the slowest page requests."""
    from app.extensions import db

    if db.engine.dialect.name != "sqlite":
        return
    raw = db.engine.raw_connection()
    try:
        for timing in sorted(timings, key=lambda t: -t.page_ms)[:top]:
            if timing.slowest_sql is None:
                continue
            statement, parameters = timing.slowest_sql
            try:
                rows = raw.cursor().execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                timing.plan = [row[3] for row in rows]
            except sqlite3.Error as exc:
                timing.plan = [f"(no plan: {exc})"]
    finally:
        raw.close()


# ------------------------------------------------------------------ reporting


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": _pct(values, 0.5), "p95": _pct(values, 0.95), "max": _pct(values, 1.0)}


def _report(n: int, r: int, counts: dict[str, Any], timings: list[Timing]) -> dict[str, Any]:
    by_shape: dict[str, list[float]] = defaultdict(list)
    for t in timings:
        by_shape[t.shape.label.split(" ")[0]].append(t.page_ms)
    slowest = sorted(timings, key=lambda t: -t.page_ms)[:5]
    statements = [t.statements for t in timings]
    return {
        "benchmark": "list",
        "contacts": n,
        "requests": r,
        "database": "sqlite",
        "seed_seconds": counts["seconds"],
        "server_ms": _stats([t.page_ms for t in timings]),
        "sql_ms": _stats([t.sql_ms for t in timings]),
        "api_ms": _stats([t.api_ms for t in timings]),
        "count_ms": _stats([t.count_ms for t in timings]),
        "sql_count_ms": _stats([t.sql_count_ms for t in timings]),
        "slowest": [
            {
                "url": t.url,
                "ms": round(t.page_ms, 1),
                "shape": t.shape.label,
                "sql_ms": round(t.sql_ms, 1),
                "plan": t.plan,
            }
            for t in slowest
        ],
        "by_shape": {
            label: {"n": len(values), **_stats(values)}
            for label, values in sorted(by_shape.items(), key=lambda kv: -_pct(kv[1], 0.95))
        },
        "statements_per_page": {
            "min": min(statements, default=0),
            "max": max(statements, default=0),
        },
        "goal_p95_ms": GOAL_P95_MS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
        },
        "notes": (
            "server_ms: the list page as htmx requests it (results block), timed around the "
            "test client call, after the login and 5 warm-up requests; api_ms: the same "
            "query on GET /api/v1/contacts; count_ms: the page's live count "
            "(/contacts/count); sql_ms / sql_count_ms: fetch_page / count without HTTP."
        ),
    }


def _summary(result: dict[str, Any]) -> str:
    s, q = result["server_ms"], result["sql_ms"]
    verdict = "meets" if s["p95"] <= result["goal_p95_ms"] else "misses"
    lines = [
        f"Contact list on {result['contacts']:,} contacts (SQLite), "
        f"{result['requests']} requests; seeded in {result['seed_seconds']} s.",
        f"  page (htmx):  p50 {s['p50']} ms   p95 {s['p95']} ms   max {s['max']} ms "
        f"({verdict} the p95 goal of {result['goal_p95_ms']} ms)",
        f"  API:          p50 {result['api_ms']['p50']} ms   p95 {result['api_ms']['p95']} ms",
        f"  live count:   p50 {result['count_ms']['p50']} ms   p95 {result['count_ms']['p95']} ms",
        f"  SQL only:     p50 {q['p50']} ms   p95 {q['p95']} ms (fetch_page); count p95 "
        f"{result['sql_count_ms']['p95']} ms",
        "  slowest page requests:",
    ]
    for item in result["slowest"]:
        lines.append(f"    {item['ms']:>8} ms  {item['shape']}")
        lines.append(f"               {item['url']}")
        lines.extend(f"               plan: {step}" for step in item["plan"])
    lines.append("  p95 by shape (ms):")
    for label, stats in result["by_shape"].items():
        lines.append(f"    {stats['p95']:>8}  {label} (n={stats['n']})")
    return "\n".join(lines)
