"""Match keys kept in step with contacts, and rebuilt in chunks by the scan.

The listener recomputes the keys of contacts whose identity fields changed (emails,
names, phones, company, LinkedIn), set-based: one SELECT of their values, one DELETE,
one executemany INSERT, inside the caller's transaction (it never commits). Deleted
contacts lose their keys by ON DELETE CASCADE. A big batch of new contacts (an import
batch) is left to a background `dedupe_keys` job that indexes contacts without keys,
so imports stay fast; until it ran, the create-time check does not see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext
from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.sql import Select

from app.contacts import events
from app.contacts.models import Contact
from app.dedupe import keys as K
from app.dedupe.matcher import one_of, value_rows, values_query
from app.dedupe.models import MatchKey
from app.dedupe.workers import Rows, key_rows
from app.extensions import CACHE_KB, db
from app.jobs import runner
from app.jobs.runner import JobRun

IDENTITY_FIELDS = frozenset(
    {
        "email",
        "secondary_emails",
        "first_name",
        "middle_name",
        "last_name",
        "phone",
        "mobile_phone",
        "home_phone",
        "secondary_phones",
        "company",
        "company_id",
        "company_name",
        "linkedin_url",
    }
)
CHUNK = 5000
DEFER_MIN = 1000  # new contacts in one event from which a background job indexes them
KEYS_JOB = "dedupe_keys"
SORT_CACHE_KB = 262_144  # SQLite page cache while a full rebuild sorts its keys
KEYS_SETTING = "dedupe.keys_version"


def phone_region() -> str | None:
    """The default region for national phone numbers (KONTOR_PHONE_REGION)."""
    return current_app.config.get("PHONE_REGION") if has_app_context() else None


_INSERT = "INSERT INTO match_keys (contact_id, key) VALUES ({0}, {0}) ON CONFLICT DO NOTHING"


def insert_keys(session, rows: list[tuple[int, str]]) -> None:
    """INSERT (contact_id, key) rows (in primary-key order: keys_task sorts them),
    ignoring any that exist already (a concurrent writer); one executemany."""
    if not rows:
        return
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    conn.exec_driver_sql(_INSERT.format(mark), rows)


def refresh_keys(session, ids: Sequence[int], *, new: bool = False) -> int:
    """Recompute the keys of these contacts (`new`: just created, they have none yet);
    return how many keys they have now."""
    region = phone_region()
    written = 0
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if not new:
            session.execute(delete(MatchKey).where(one_of(session, MatchKey.contact_id, chunk)))
        query = values_query().where(one_of(session, Contact.id, chunk))
        rows = key_rows(value_rows(session, query), region)
        insert_keys(session, rows)
        written += len(rows)
    return written


@events.listener("dedupe.keys")
def _contacts_changed(event: events.ContactEvent) -> None:
    """Keep match keys current when identity fields change (created/updated/merged)."""
    if event.kind in ("created", "updated"):
        if event.fields is not None and not (event.fields & IDENTITY_FIELDS):
            return
    elif event.kind != "merged":
        return
    session = db.session
    if isinstance(event.ids, Select):
        ids = [int(i) for i in session.scalars(event.ids)]
    else:
        ids = list(event.ids)
    if event.kind == "merged":
        ids.extend(int(i) for i in (event.data.get("survivor"), event.data.get("merged")) if i)
    if event.kind == "created" and len(ids) >= _config("DEDUPE_KEYS_DEFER_MIN", DEFER_MIN):
        # A big batch of new contacts (an import): a background job indexes them once
        # the batch is committed, instead of slowing the import by a third.
        defer_new(session, min(ids))
        return
    refresh_keys(session, sorted(set(ids)), new=event.kind == "created")


def _config(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def defer_new(session, first_id: int) -> None:
    """Have the keys of new contacts (ids from `first_id`) computed by a dedupe_keys job:
    the queued one (widened if needed), else a new one, handed to the workers after the
    commit."""
    from sqlalchemy import event as sa_event

    from app.jobs import queue, runner
    from app.jobs.models import Job

    job = session.scalar(
        select(Job)
        .where(Job.kind == KEYS_JOB, Job.status == "queued")
        .order_by(Job.id.desc())
        .limit(1)
    )
    if job is not None:
        if first_id < int((job.params or {}).get("from_id", first_id)):
            job.params = {**(job.params or {}), "from_id": first_id}
        return
    job = runner.create(KEYS_JOB, {"from_id": first_id}, title=gettext("Index new contacts"))
    job_id = job.id
    sa_event.listen(session(), "after_commit", lambda _s: queue.enqueue(job_id), once=True)


@runner.handler(KEYS_JOB)
def run_keys_job(run: JobRun) -> dict[str, Any]:
    """The dedupe_keys job: match keys for contacts that have none, from `from_id` on."""
    cp = dict(run.checkpoint or {"after_id": int(run.params.get("from_id", 1)) - 1, "indexed": 0})
    chunk = _config("DEDUPE_KEY_CHUNK", CHUNK)
    region = phone_region()
    while True:
        last, rows = next_rows(db.session, cp["after_id"], chunk, only_missing=True)
        if last is None:
            break
        write_keys(db.session, key_rows(rows, region), full=False)
        cp.update(after_id=last, indexed=cp["indexed"] + len(rows[1]))
        run.progress(cp["indexed"])
        run.commit(cp)
    return {"contacts_indexed": cp["indexed"]}


def next_last(session, after_id: int, limit: int) -> int | None:
    """The id `limit` contacts after `after_id` (or the last one; None: no more)."""
    ids_query = select(Contact.id).where(Contact.id > after_id).order_by(Contact.id).limit(limit)
    return session.scalar(select(func.max(ids_query.subquery().c.id)))


def next_rows(session, after_id: int, limit: int, *, only_missing: bool) -> tuple[int | None, Rows]:
    """(last id of the next `limit` contacts after `after_id`, or None when there are no
    more; the value rows of those contacts [with `only_missing`: of those without keys])."""
    last = next_last(session, after_id, limit)
    if last is None:
        return None, ((), [])
    where = [Contact.id > after_id, Contact.id <= last]
    if only_missing:
        where.append(~exists().where(MatchKey.contact_id == Contact.id))
    return last, value_rows(session, values_query().where(*where))


def write_keys(session, keys: list[tuple[int, str]], *, full: bool) -> None:
    """Store keys (key_rows): in a full rebuild on PostgreSQL into the staging table,
    else into match_keys (keys the listener wrote meanwhile, from newer values, stay)."""
    if full and _dialect(session) == "postgresql":
        if keys:
            cursor = session.connection().connection.driver_connection.cursor()
            with cursor.copy("COPY match_keys_build (contact_id, key) FROM STDIN") as copy:
                for row in keys:
                    copy.write_row(row)
        return
    insert_keys(session, keys)


# ---------------------------------------------------------------- full rebuild
#
# Inserting millions of keys into the key index in random order is slow (on SQLite
# above all). A full rebuild therefore empties match_keys and builds it in contact
# order: on SQLite straight into the table (its primary key leads with the contact,
# so each chunk is appended) with the key index dropped, then built once by sorting;
# on PostgreSQL each chunk is COPied into match_keys_build (no index), and the end
# refills match_keys from it without its constraints and adds them back. Until the
# end, `keys_ready` is false and the create-time check looks nothing up.


BUILDING = 0  # keys_version while a full rebuild runs


def _dialect(session) -> str:
    return session.get_bind().dialect.name


def _key_index():
    return next(i for i in MatchKey.__table__.indexes if i.name == "ix_match_keys_key")


def start_build(session, *, full: bool) -> None:
    """Before the first chunk of a rebuild: empty the staging table; for a full rebuild
    also every match key (and, on SQLite, drop the key index), marking the keys as
    being built."""
    pg = _dialect(session) == "postgresql"
    if pg:
        session.execute(text("TRUNCATE match_keys_build"))
    if not full:
        return
    set_keys_version(session, BUILDING)
    if pg:
        session.execute(text("TRUNCATE match_keys"))
    else:
        session.execute(delete(MatchKey))
        session.execute(text("DROP INDEX IF EXISTS ix_match_keys_key"))


def finish_build(session, *, full: bool) -> None:
    """After the last chunk: the key index (SQLite) or the staged keys moved into
    match_keys (PostgreSQL), and for a full rebuild the current key version."""
    if not full:
        return
    if _dialect(session) == "postgresql":
        _merge_postgres_full(session)
        session.execute(text("TRUNCATE match_keys_build"))
    else:
        conn = session.connection()
        # the sort of millions of keys: more memory, fewer merge passes
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SORT_CACHE_KB}")
        try:
            _key_index().create(conn, checkfirst=True)
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KB}")
    set_keys_version(session)


def keys_ready(session) -> bool:
    """False while a full rebuild runs (the keys are partial, on SQLite unindexed)."""
    return keys_version(session) != BUILDING


def vacuum_keys(session) -> None:
    """PostgreSQL, after a full rebuild (committed): VACUUM marks the new pages all-visible,
    so the scan's reads stay in the key index (index-only scans)."""
    if _dialect(session) != "postgresql":
        return
    engine = session.get_bind()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE match_keys")


def _merge_postgres_full(session) -> None:
    """PostgreSQL, full rebuild: checking the primary key and the foreign key row by row
    is what costs, so the table is refilled without them and they are added back (an
    index build by sorting, one validating join). The table is locked meanwhile."""
    from sqlalchemy.schema import AddConstraint, DropConstraint

    table = MatchKey.__table__
    pk = table.primary_key
    fk = next(iter(table.foreign_key_constraints))
    conn = session.connection()
    session.execute(text("LOCK TABLE match_keys IN ACCESS EXCLUSIVE MODE"))
    # keys the listener wrote since the rebuild started are kept
    session.execute(
        text(
            "INSERT INTO match_keys_build (contact_id, key) SELECT contact_id, key FROM match_keys"
        )
    )
    session.execute(text("TRUNCATE match_keys"))
    _key_index().drop(conn)
    conn.execute(DropConstraint(fk))
    conn.execute(DropConstraint(pk))
    session.execute(
        text(
            "INSERT INTO match_keys (contact_id, key) SELECT DISTINCT b.contact_id, b.key "
            "FROM match_keys_build b JOIN contacts c ON c.id = b.contact_id"
        )
    )
    conn.execute(AddConstraint(pk))
    conn.execute(AddConstraint(fk))
    _key_index().create(conn)
    session.execute(text("ANALYZE match_keys"))


def count_missing(session) -> int:
    """How many contacts have no match key at all (every contact has at least one)."""
    query = select(func.count()).select_from(Contact)
    return session.scalar(query.where(~exists().where(MatchKey.contact_id == Contact.id))) or 0


def keys_version(session) -> Any:
    """The key version the stored keys were built with (None: never built)."""
    from app.scoring.models import AppSetting

    row = session.get(AppSetting, KEYS_SETTING)
    return row.value if row is not None else None


def set_keys_version(session, version: int = K.KEYS_VERSION) -> None:
    from app.scoring.models import AppSetting

    row = session.get(AppSetting, KEYS_SETTING)
    if row is None:
        session.add(AppSetting(key=KEYS_SETTING, value=version))
    else:
        row.value = version
