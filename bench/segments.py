"""`kontor bench segments`: how fast do segments count on a big database?

In a fresh temporary instance (its own SQLite file) it migrates, seeds N contacts and M
activities (app.seed: email opens, clicks and "purchase" custom events with values),
then times the count of five segment trees (app.segments.compile.count: building,
compiling and running the query; the build alone is shown too, about a millisecond) and,
in the same run, an equivalent hand-written SQL query (with the same temporary storage
as count(): files on SQLite), and checks both give the same count:

1. fields: status, lead score and a creation window;
2. tag and country;
3. activity count within 30 days (2+ email opens);
4. goal sum within 365 days (purchases worth 1,000+);
5. a nested ANY/ALL/NOT tree mixing all of them.

With DATABASE_URL=postgresql+psycopg://... it does the same in a temporary database
created on that server (and dropped afterwards). Each time is the median of REPEAT runs
after one warm-up run. KONTOR_BENCH_KEEP=1 keeps the SQLite instance.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.benchmarks import fresh_app, migrate_quietly, postgres_database, sqlite_instance

GOAL_MS = 1000
GOAL_RATIO = 1.5
REPEAT = 3

TREES: dict[str, dict] = {
    "fields": {
        "all": [
            {"field": "status", "op": "eq", "value": "active"},
            {"field": "lead_score", "op": "gte", "value": 50},
            {"field": "created_at", "op": "within_last_days", "value": 365},
        ]
    },
    "tag_and_country": {
        "all": [
            {"field": "tags", "op": "contains", "value": "VIP"},
            {"field": "country", "op": "eq", "value": "FR"},
        ]
    },
    "activity_count_30d": {
        "activity": "email_opened",
        "count": {"op": "gte", "value": 2},
        "within_days": 30,
    },
    "goal_sum_365d": {
        "event": "purchase",
        "aggregate": "sum",
        "op": "gte",
        "value": 1000,
        "within_days": 365,
    },
    "nested": {
        "any": [
            {
                "all": [
                    {"field": "country", "op": "in", "value": ["FR", "DE"]},
                    {"field": "tags", "op": "contains", "value": "Newsletter"},
                    {"not": {"event": "purchase", "op": "gte", "value": 1, "within_days": 90}},
                ]
            },
            {
                "all": [
                    {
                        "activity": "email_opened",
                        "count": {"op": "gte", "value": 2},
                        "within_days": 30,
                    },
                    {"not": {"field": "status", "op": "in", "value": ["unsubscribed", "bounced"]}},
                ]
            },
            {
                "event": "purchase",
                "aggregate": "sum",
                "op": "gte",
                "value": 1000,
                "within_days": 365,
            },
        ]
    },
}

_OPENED = """SELECT contact_id FROM activities
  WHERE kind = 'email_opened' AND occurred_at >= :since30 AND occurred_at <= :now
  GROUP BY contact_id HAVING count(*) >= 2"""
_SPENT = """SELECT contact_id FROM activities
  WHERE kind = 'custom_event' AND event_name = 'purchase'
    AND occurred_at >= :since365 AND occurred_at <= :now
  GROUP BY contact_id HAVING sum(value) >= 1000"""
_RECENT = """SELECT contact_id FROM activities
  WHERE kind = 'custom_event' AND event_name = 'purchase' AND contact_id IS NOT NULL
    AND occurred_at >= :since90 AND occurred_at <= :now"""
_TAGGED = """SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
  WHERE t.key = 'newsletter'"""

# What a person fluent in SQL writes for the same question.
HAND_WRITTEN: dict[str, dict[str, str]] = {
    "fields": {
        "any": """SELECT count(*) FROM contacts
          WHERE archived_at IS NULL AND status = 'active' AND lead_score >= 50
            AND created_at >= :since365 AND created_at <= :now"""
    },
    "tag_and_country": {
        "any": """SELECT count(*) FROM contacts c
          JOIN contact_tags ct ON ct.contact_id = c.id JOIN tags t ON t.id = ct.tag_id
          WHERE t.key = 'vip' AND c.country = 'FR' AND c.archived_at IS NULL"""
    },
    "activity_count_30d": {
        "any": f"""SELECT count(*) FROM contacts c JOIN ({_OPENED}) a ON a.contact_id = c.id
          WHERE c.archived_at IS NULL"""
    },
    "goal_sum_365d": {
        "any": f"""SELECT count(*) FROM contacts c JOIN ({_SPENT}) s ON s.contact_id = c.id
          WHERE c.archived_at IS NULL"""
    },
    "nested": {
        "sqlite": f"""SELECT count(*) FROM contacts c WHERE c.archived_at IS NULL AND (
            (c.country IN ('FR', 'DE') AND c.id IN ({_TAGGED}) AND c.id NOT IN ({_RECENT}))
            OR (c.id IN ({_OPENED}) AND c.status NOT IN ('unsubscribed', 'bounced'))
            OR c.id IN ({_SPENT}))""",
        # PostgreSQL: an IN inside OR is a hashed set only while the planner expects it to
        # fit in work_mem (else a scan of the set per contact): joins instead.
        "postgresql": f"""SELECT count(*) FROM contacts c
          LEFT JOIN ({_OPENED}) o ON o.contact_id = c.id
          LEFT JOIN ({_SPENT}) s ON s.contact_id = c.id
          WHERE c.archived_at IS NULL AND (
            (c.country IN ('FR', 'DE')
              AND EXISTS ({_TAGGED} AND ct.contact_id = c.id)
              AND NOT EXISTS ({_RECENT} AND contact_id = c.id))
            OR (o.contact_id IS NOT NULL AND c.status NOT IN ('unsubscribed', 'bounced'))
            OR s.contact_id IS NOT NULL)""",
    },
}


def run(
    contacts: int = 1_000_000, activities: int = 10_000_000, as_json: bool = False, **_: Any
) -> dict[str, Any]:
    """Seed, time the five trees and their hand-written SQL on SQLite (and PostgreSQL
    when DATABASE_URL names one); print the figures (JSON with as_json) and return them."""

    def say(message: str) -> None:
        if not as_json:
            print(message, file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "benchmark": "segments",
        "contacts": contacts,
        "activities": activities,
        "goal_ms": GOAL_MS,
        "goal_ratio": GOAL_RATIO,
        "repeat": REPEAT,
        "trees": TREES,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
        },
        "databases": {},
    }
    with sqlite_instance("segments") as (folder, uri):
        result["databases"]["sqlite"] = _measure(folder, uri, contacts, activities, say)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        with postgres_database(url, "segments") as (folder, uri):
            result["databases"]["postgresql"] = _measure(folder, uri, contacts, activities, say)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        print(_summary(result))
    return result


# ------------------------------------------------------------------ instances


# ------------------------------------------------------------------ measuring


def _measure(folder: str, uri: str, n: int, m: int, say: Callable[[str], None]) -> dict:

    from sqlalchemy import DateTime, bindparam, text

    from app.auth.models import User
    from app.extensions import db
    from app.seed import seed
    from app.segments.compile import contact_ids, count, count_statement, custom_field_types
    from app.timeutil import utcnow

    app = fresh_app(folder, uri)
    with app.app_context():
        dialect = db.engine.dialect.name
        migrate_quietly()
        for name in ("anna", "jonas", "lucia"):
            db.session.add(User(email=f"{name}@example.com", name=name.title(), password_hash="-"))
        db.session.commit()
        now = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        say(f"{dialect}: seeding {n:,} contacts and {m:,} activities ...")
        counts = seed(contacts=n, activities=m, seed=1, progress=True, now=now)
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        events = db.session.execute(
            text("SELECT count(*) FROM activities WHERE kind = 'custom_event' AND value > 0")
        ).scalar_one()
        say(f"{dialect}: seeded in {counts['seconds']} s ({events:,} purchases); timing ...")
        custom = custom_field_types(db.session)
        params = {
            "now": now,
            "since30": now - timedelta(days=30),
            "since90": now - timedelta(days=90),
            "since365": now - timedelta(days=365),
        }
        binds = [bindparam(k, type_=DateTime()) for k in params]
        out: dict[str, Any] = {"seed_seconds": counts["seconds"], "trees": {}}
        for label, tree in TREES.items():
            sqls = HAND_WRITTEN[label]
            sql = sqls.get(dialect) or sqls["any"]
            hand = text(sql).bindparams(*(b for b in binds if f":{b.key}" in sql))
            n_ours, ours_ms = _time(lambda tree=tree: count(db.session, tree, custom, now=now))
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            n_hand, hand_ms = _time(lambda hand=hand, used=used: _run_hand(hand, used))
            _, build_ms = _time(
                lambda tree=tree: str(
                    contact_ids(tree, custom, now=now).compile(dialect=db.engine.dialect)
                )
            )
            entry = {
                "count": n_ours,
                "ms": ours_ms,
                "build_ms": build_ms,
                "hand_written_ms": hand_ms,
                "ratio": round(ours_ms / hand_ms, 2) if hand_ms else None,
                "meets_goal": ours_ms <= GOAL_MS and ours_ms <= GOAL_RATIO * max(hand_ms, 1),
                "plan": _plan(db.session, count_statement(db.session, tree, custom, now=now)),
            }
            if n_hand != n_ours:
                entry["error"] = f"hand-written SQL counts {n_hand}"
            out["trees"][label] = entry
            say(f"  {label}: {n_ours:,} contacts, {ours_ms} ms (hand-written {hand_ms} ms)")
        db.session.remove()
        db.engine.dispose()
    return out


def _run_hand(stmt, params: dict[str, Any]) -> Any:
    """The hand-written query's count, with the temporary storage count() uses (files on
    SQLite, for its faster sorter), so both sides sort alike."""
    from app.extensions import db, temp_files

    with temp_files(db.session):
        return db.session.execute(stmt, params).scalar()


def _time(fn: Callable[[], Any]) -> tuple[Any, float]:
    """The result of fn and its median wall time in ms over REPEAT runs after a warm-up."""
    result = fn()
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        again = fn()
        times.append((time.perf_counter() - started) * 1000)
        if again != result:
            raise RuntimeError("a count changed between runs")
    return result, round(statistics.median(times), 1)


def _plan(session, stmt) -> list[str]:
    """The query plan of a statement (SQLite EXPLAIN QUERY PLAN / PostgreSQL EXPLAIN)."""
    from sqlalchemy import text

    dialect = session.get_bind().dialect
    try:
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception as exc:  # a value without a literal form: no plan, not an error
        return [f"(no plan: {exc})"]
    if dialect.name == "sqlite":
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
        return [row[3] for row in rows]
    return [row[0] for row in session.execute(text(f"EXPLAIN {sql}")).all()]


# ------------------------------------------------------------------ reporting


def _summary(result: dict[str, Any]) -> str:
    lines = [
        f"Segment counts on {result['contacts']:,} contacts and {result['activities']:,} "
        f"activities (median of {result['repeat']} runs; goal <= {GOAL_MS} ms and "
        f"<= {GOAL_RATIO}x the hand-written SQL)."
    ]
    for database, figures in result["databases"].items():
        lines.append(f"  {database} (seeded in {figures['seed_seconds']} s):")
        for label, t in figures["trees"].items():
            verdict = "ok" if t["meets_goal"] else "MISSES"
            error = f"  ERROR: {t['error']}" if "error" in t else ""
            lines.append(
                f"    {label:<20} {t['ms']:>9} ms  hand-written {t['hand_written_ms']:>9} ms  "
                f"x{t['ratio']:<5} {t['count']:>9,} contacts  {verdict}  "
                f"(building the SQL: {t['build_ms']} ms){error}"
            )
    return "\n".join(lines)
