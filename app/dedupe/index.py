"""Match keys kept in step with contacts, and rebuilt in chunks by the scan.

The listener recomputes the keys of contacts whose identity fields changed (emails,
names, phones, company, LinkedIn), set-based: one SELECT of their values, one DELETE,
one executemany INSERT, inside the caller's transaction (it never commits). Deleted
contacts lose their keys by ON DELETE CASCADE. A big batch of new contacts (an import
batch) is left to a background `dedupe_keys` job that indexes contacts without keys,
so imports stay fast; until it ran, the create-time check does not see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext
from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from app.contacts import events
from app.contacts.models import Contact
from app.dedupe import keys as K
from app.dedupe.matcher import contact_values, one_of, value_dicts, values_query
from app.dedupe.models import MatchKey, MatchKeyBuild
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


_INSERT = "INSERT INTO match_keys (key, contact_id) VALUES ({0}, {0}) ON CONFLICT DO NOTHING"


def insert_keys(session, rows: list[tuple[str, int]]) -> None:
    """INSERT (key, contact_id) rows, ignoring any that exist already (a concurrent
    writer); one executemany at the driver, rows sorted by key (fewer index pages)."""
    if not rows:
        return
    rows.sort()
    conn = session.connection()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    conn.exec_driver_sql(_INSERT.format(mark), rows)


def key_rows(values: Iterable[Any], region: str | None) -> list[tuple[str, int]]:
    """(key, contact_id) rows of these contacts' values."""
    return [(key, v["id"]) for v in values for key in K.match_keys(v, region)]


def refresh_keys(session, ids: Sequence[int], *, new: bool = False) -> int:
    """Recompute the keys of these contacts (`new`: just created, they have none yet);
    return how many keys they have now."""
    region = phone_region()
    written = 0
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        values = contact_values(session, chunk)
        if not new:
            session.execute(delete(MatchKey).where(one_of(session, MatchKey.contact_id, chunk)))
        rows = key_rows(values.values(), region)
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
    while True:
        last, n, _ = rebuild_keys(db.session, cp["after_id"], chunk, only_missing=True)
        if last is None:
            break
        cp.update(after_id=last, indexed=cp["indexed"] + n)
        run.progress(cp["indexed"])
        run.commit(cp)
    return {"contacts_indexed": cp["indexed"]}


def rebuild_keys(
    session, after_id: int, limit: int, *, only_missing: bool = False
) -> tuple[int | None, int, int]:
    """Recompute, in place, the keys of the next `limit` contacts after `after_id` (all
    of them, or with `only_missing` those that have none); return (last id, or None
    when there are no more contacts; contacts done; keys written)."""
    last, rows = _next_values(session, after_id, limit, only_missing)
    if last is None or not rows:
        return last, 0, 0
    if not only_missing:
        session.execute(
            delete(MatchKey).where(MatchKey.contact_id > after_id, MatchKey.contact_id <= last)
        )
    keys = key_rows(rows, phone_region())
    insert_keys(session, keys)
    return last, len(rows), len(keys)


def _next_values(session, after_id: int, limit: int, only_missing: bool):
    """(last id of the next `limit` contacts or None, their values [without keys])."""
    ids_query = select(Contact.id).where(Contact.id > after_id).order_by(Contact.id).limit(limit)
    last = session.scalar(select(func.max(ids_query.subquery().c.id)))
    if last is None:
        return None, []
    where = [Contact.id > after_id, Contact.id <= last]
    if only_missing:
        where.append(~exists().where(MatchKey.contact_id == Contact.id))
    return last, value_dicts(session, values_query().where(*where))


# ---------------------------------------------------------------- staged rebuild
#
# Inserting millions of keys one by one into the key index touches its pages in random
# order (slow on SQLite above all). The scan instead appends each chunk's keys to
# match_keys_build (no index: sequential writes, COPY on PostgreSQL), then copies them
# into match_keys in one INSERT ... SELECT ... ORDER BY key, which fills the index in
# order; for a full rebuild the contact_id index is dropped and rebuilt around it.


def _dialect(session) -> str:
    return session.get_bind().dialect.name


def start_staging(session, *, full: bool) -> None:
    """Empty the staging table; for a full rebuild also every match key (the keys are
    back at merge_staged; the create-time check finds nothing in between)."""
    if _dialect(session) == "postgresql":
        session.execute(text("TRUNCATE match_keys_build"))
        if full:
            session.execute(text("TRUNCATE match_keys"))
    else:
        session.execute(delete(MatchKeyBuild))
        if full:
            session.execute(delete(MatchKey))


def stage_keys(
    session, after_id: int, limit: int, *, only_missing: bool = False
) -> tuple[int | None, int, int]:
    """Compute the keys of the next `limit` contacts after `after_id` (with
    `only_missing`, of those that have none) into the staging table; return (last id
    or None when there are no more contacts, contacts done, keys staged)."""
    last, rows = _next_values(session, after_id, limit, only_missing)
    if last is None or not rows:
        return last, 0, 0
    region = phone_region()
    staged = [(key, v["id"]) for v in rows for key in K.match_keys(v, region)]
    _append(session, staged)
    return last, len(rows), len(staged)


def _append(session, rows: list[tuple[str, int]]) -> None:
    if not rows:
        return
    conn = session.connection()
    if _dialect(session) == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy("COPY match_keys_build (key, contact_id) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql("INSERT INTO match_keys_build (key, contact_id) VALUES (?, ?)", rows)


def merge_staged(session, *, full: bool) -> bool:
    """Copy the staged keys into match_keys in key order (ignoring keys present, and
    contacts deleted meanwhile), then empty the staging table; False when none were."""
    staged = session.scalar(select(MatchKeyBuild.id).limit(1)) is not None
    if staged:
        if _dialect(session) == "postgresql" and full:
            _merge_postgres_full(session)
        else:
            _merge_in_order(session, full=full)
    if _dialect(session) == "postgresql":
        session.execute(text("TRUNCATE match_keys_build"))
    else:
        session.execute(delete(MatchKeyBuild))
    return staged


def vacuum_keys(session) -> None:
    """PostgreSQL, after a full rebuild (committed): VACUUM marks the new pages all-visible,
    so the scan's reads stay in the key index (index-only scans)."""
    if _dialect(session) != "postgresql":
        return
    engine = session.get_bind()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE match_keys")


def _contact_id_index():
    return next(i for i in MatchKey.__table__.indexes if i.name == "ix_match_keys_contact_id")


def _merge_in_order(session, *, full: bool) -> None:
    """INSERT ... SELECT ... ORDER BY key: the key index fills in order (SQLite, or a
    partial rebuild on PostgreSQL); a full rebuild drops the contact_id index meanwhile."""
    pg = _dialect(session) == "postgresql"
    conn = session.connection()
    if full:
        _contact_id_index().drop(conn)
    head = "INSERT INTO" if pg else "INSERT OR IGNORE INTO"
    head += " match_keys (key, contact_id) SELECT b.key, b.contact_id FROM match_keys_build b"
    tail = " ORDER BY b.key, b.contact_id" + (" ON CONFLICT DO NOTHING" if pg else "")
    if not pg:  # the sort of millions of keys: more memory, fewer merge passes
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SORT_CACHE_KB}")
    try:
        try:
            with session.begin_nested():
                session.execute(text(head + tail))
        except IntegrityError:  # a contact was deleted while its keys were staged
            alive = " WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.id = b.contact_id)"
            session.execute(text(head + alive + tail))
        if full:
            _contact_id_index().create(conn)
    finally:
        if not pg:
            conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KB}")
    if pg:
        session.execute(text("ANALYZE match_keys"))


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
            "INSERT INTO match_keys_build (key, contact_id) SELECT key, contact_id FROM match_keys"
        )
    )
    session.execute(text("TRUNCATE match_keys"))
    _contact_id_index().drop(conn)
    conn.execute(DropConstraint(fk))
    conn.execute(DropConstraint(pk))
    session.execute(
        text(
            "INSERT INTO match_keys (key, contact_id) SELECT DISTINCT b.key, b.contact_id "
            "FROM match_keys_build b JOIN contacts c ON c.id = b.contact_id"
        )
    )
    conn.execute(AddConstraint(pk))
    conn.execute(AddConstraint(fk))
    _contact_id_index().create(conn)
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
