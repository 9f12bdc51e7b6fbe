"""`kontor bench pipeline`: how fast are the deal board and a card move on a big pipeline?

In a fresh temporary instance (its own SQLite file) it migrates, creates users, seeds
contacts and N deals across the default stages (app.pipeline.demo), logs in through the
login form and, through the real app (Flask test client, in this process, wall time of
each call):

- first paint: GET /pipeline/ as the logged-in user (the whole page: every column's first
  50 cards, the totals, the filters), REQUESTS times;
- move: POST /pipeline/deals/<id>/move as the board's script sends it after a drop (htmx,
  between columns, with the neighbours' ids and the version), REQUESTS different deals;
  each one commits (deal, audit entry, timeline activity, contact date);
- column page: the next 50 cards of a column, as the lazy-loading sentinel asks.

Baselines measured in the same run: an almost empty page through the same stack (GET
/pipeline/pick/contacts with nothing typed: login session, permission check, a template)
and the raw SQL of one board render (its statements captured, then replayed on the
driver connection). Goals: first paint p50 <= 50 ms, move p50 <= 20 ms.

With DATABASE_URL=postgresql+psycopg://... it does the same in a temporary database
created on that server (dropped afterwards). KONTOR_BENCH_KEEP=1 keeps the SQLite instance.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from app.benchmarks import fresh_app, migrate_quietly, postgres_database, sqlite_instance

GOALS_MS = {"first_paint": 50, "move": 20}
WARMUP = 5
USERS = ("admin", "anna", "jonas", "lucia")
PASSWORD = "bench-password-1"


def run(
    deals: int = 10_000,
    requests: int = 100,
    contacts: int = 2_000,
    as_json: bool = False,
    **_: Any,
) -> dict[str, Any]:
    """Seed, time the board, a move and a column page on SQLite (and PostgreSQL when
    DATABASE_URL names one); print the figures (JSON with as_json) and return them."""

    def say(message: str) -> None:
        if not as_json:
            print(message, file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "benchmark": "pipeline",
        "deals": deals,
        "contacts": contacts,
        "requests": requests,
        "goals_ms": {**GOALS_MS, "statistic": "p50"},
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
        },
        "method": "Flask test client in this process; wall time of each call after "
        f"{WARMUP} warm-up calls; the board as the logged-in admin, moves as the board's "
        "script posts them (htmx, between columns, neighbours and version).",
        "databases": {},
    }
    with sqlite_instance("pipeline") as (folder, uri):
        result["databases"]["sqlite"] = _measure(folder, uri, deals, contacts, requests, say)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        with postgres_database(url, "pipeline") as (folder, uri):
            result["databases"]["postgresql"] = _measure(
                folder, uri, deals, contacts, requests, say
            )
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        print(_summary(result))
    return result


# ------------------------------------------------------------------ instances


# ------------------------------------------------------------------ measuring


def _measure(
    folder: str, uri: str, n: int, n_contacts: int, r: int, say: Callable[[str], None]
) -> dict:
    from sqlalchemy import func, select

    from app.auth.models import User
    from app.extensions import db
    from app.pipeline.demo import seed_deals
    from app.pipeline.models import Deal
    from app.pipeline.stages import all_stages, ensure_default_stages
    from app.seed import seed

    app = fresh_app(folder, uri)
    with app.app_context():
        dialect = db.engine.dialect.name
        migrate_quietly()
        ensure_default_stages()
        for name in USERS:
            user = User(
                email=f"{name}@example.com",
                name=name.title(),
                role="admin" if name == "admin" else "member",
            )
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
        say(f"{dialect}: seeding {n_contacts:,} contacts and {n:,} deals ...")
        started = time.perf_counter()
        seed(contacts=n_contacts, activities=0, seed=1, deals=0)
        seed_deals(n, seed=1)
        db.session.commit()
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        seed_seconds = round(time.perf_counter() - started, 2)
        stages = [(s.id, s.name) for s in all_stages()]
        per_stage = dict(
            db.session.execute(select(Deal.stage_id, func.count()).group_by(Deal.stage_id)).all()
        )
        # Moves: r deals of the first column, each dropped in the third column between
        # its first two cards (as a drag between columns posts it).
        source, target = stages[0][0], stages[2][0]
        movers = list(
            db.session.execute(
                select(Deal.id, Deal.version)
                .where(Deal.stage_id == source)
                .order_by(Deal.position.desc())
                .limit(r + WARMUP)
            )
        )
        neighbours = list(
            db.session.scalars(
                select(Deal.id).where(Deal.stage_id == target).order_by(Deal.position).limit(2)
            )
        )
        third = db.session.execute(
            select(Deal.position, Deal.id)
            .where(Deal.stage_id == stages[1][0])
            .order_by(Deal.position, Deal.id)
            .offset(49)
            .limit(1)
        ).first()
    if len(movers) < r + WARMUP or len(neighbours) < 2:
        raise RuntimeError("not enough deals in the first and third columns for the moves")
    say(f"{dialect}: seeded in {seed_seconds} s; timing {r} requests of each kind ...")

    gc.collect()
    gc.freeze()  # the seeding heap: no full GC pass over it inside a timed request
    client = app.test_client()
    _login(client)
    token = _csrf(client.get("/pipeline/").get_data(as_text=True))
    htmx = {"HX-Request": "true", "X-CSRFToken": token}

    board_ms, page = _times(r, lambda: client.get("/pipeline/"))
    statements = _capture(app, lambda: client.get("/pipeline/"))
    empty_ms, _ = _times(r, lambda: client.get("/pipeline/pick/contacts?contact="))
    column_url = f"/pipeline/stages/{stages[1][0]}/cards?after={third.position!r}:{third.id}"
    column_ms, _ = _times(r, lambda: client.get(column_url, headers={"HX-Request": "true"}))

    moves = iter(movers)
    before, after = neighbours

    def move():
        deal_id, version = next(moves)
        form = {"stage": target, "before": before, "after": after, "version": version}
        return client.post(f"/pipeline/deals/{deal_id}/move", data=form, headers=htmx)

    move_ms, answer = _times(r, move)
    with app.app_context():
        sql_ms = _replay(statements)
        db.session.remove()
        db.engine.dispose()
    gc.unfreeze()

    board = _stats(board_ms)
    moved = _stats(move_ms)
    return {
        "seed_seconds": seed_seconds,
        "deals_per_stage": {name: per_stage.get(sid, 0) for sid, name in stages},
        "first_paint": {
            **board,
            "queries": len(statements),
            "cards": page.count('class="deal-card"'),
            "kb": round(len(page.encode()) / 1024, 1),
            "meets_goal": board["p50_ms"] <= GOALS_MS["first_paint"],
        },
        "move": {
            **moved,
            "answer_bytes": len(answer.encode()),
            "meets_goal": moved["p50_ms"] <= GOALS_MS["move"],
        },
        "column_page": _stats(column_ms),
        "baseline": {
            "empty_page": _stats(empty_ms),
            "board_sql_ms": sql_ms,
            "note": "empty_page: GET /pipeline/pick/contacts with nothing typed (session, "
            "permission, template; no board query). board_sql_ms: median time of the "
            "board's own SQL statements replayed on the driver connection.",
        },
    }


def _login(client) -> None:
    """Log in through the form, with its CSRF token, as a person does."""
    token = _csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed ({response.status_code})")


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', page)
    if not match:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1) or match.group(2)


def _times(count: int, call: Callable[[], Any]) -> tuple[list[float], str]:
    """Wall times (ms) of `count` calls after WARMUP ones; and the last answer's body."""
    body = ""
    for _ in range(WARMUP):
        response = call()
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)[:300]}")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)[:300]}")
        body = response.get_data(as_text=True)
    return times, body


def _capture(app, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SQL statements (with parameters) one request runs."""
    from sqlalchemy import event

    from app.extensions import db

    statements: list[tuple[str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return statements


def _replay(statements: list[tuple[str, Any]], repeat: int = 20) -> float:
    """Median time (ms) of running the statements on the driver connection."""
    from app.extensions import db

    times = []
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for _ in range(repeat + 2):
            cursor = raw.cursor()
            started = time.perf_counter()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
            cursor.close()
            raw.rollback()
    return round(statistics.median(times[2:]), 2)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(values, 0.50), 2),
        "p95_ms": round(_pct(values, 0.95), 2),
        "min_ms": round(min(values), 2),
        "max_ms": round(max(values), 2),
        "n": len(values),
    }


# ------------------------------------------------------------------ reporting


def _summary(result: dict[str, Any]) -> str:
    goals = result["goals_ms"]
    lines = [
        f"Pipeline with {result['deals']:,} deals ({result['requests']} requests each; "
        f"goals: first paint <= {goals['first_paint']} ms, move <= {goals['move']} ms, p50)."
    ]
    for database, f in result["databases"].items():
        paint, move = f["first_paint"], f["move"]
        lines += [
            f"  {database} (seeded in {f['seed_seconds']} s):",
            f"    first paint  p50 {paint['p50_ms']:>7} ms  p95 {paint['p95_ms']:>7} ms  "
            f"{paint['queries']} queries, {paint['cards']} cards, {paint['kb']} KB  "
            f"{'ok' if paint['meets_goal'] else 'MISSES'}",
            f"    move         p50 {move['p50_ms']:>7} ms  p95 {move['p95_ms']:>7} ms  "
            f"{'ok' if move['meets_goal'] else 'MISSES'}",
            f"    column page  p50 {f['column_page']['p50_ms']:>7} ms  "
            f"p95 {f['column_page']['p95_ms']:>7} ms",
            f"    baseline: empty page p50 {f['baseline']['empty_page']['p50_ms']} ms, "
            f"board SQL {f['baseline']['board_sql_ms']} ms",
        ]
    return "\n".join(lines)
