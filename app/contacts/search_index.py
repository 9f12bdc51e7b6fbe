"""Keeping the contact search index current during bulk writes.

Per-row triggers keep SQLite's FTS5 index in step with contacts.search_text. For a
batch of thousands of rows that costs seven times more than indexing the batch with
one set-based statement, so a bulk writer pauses the triggers inside its own
transaction (SQLite has a single writer, so nobody else writes meanwhile), tells this
module what it inserted and re-indexed, and resumes before committing. On PostgreSQL
the GIN index maintains itself and these functions do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

CHUNK = 500


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def pause(session: Session) -> None:
    """Stop the per-row index triggers until resume() (within this transaction)."""
    if _sqlite(session):
        session.execute(text("INSERT OR IGNORE INTO contacts_fts_pause (id) VALUES (1)"))


def resume(session: Session) -> None:
    """Turn the per-row triggers back on (before the transaction commits)."""
    if _sqlite(session):
        session.execute(text("DELETE FROM contacts_fts_pause"))


def index_new(session: Session, ids: Sequence[int]) -> None:
    """Index contacts inserted while paused."""
    if not _sqlite(session) or not ids:
        return
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i : i + CHUNK])
        marks = ",".join(str(int(x)) for x in chunk)
        session.execute(
            text(
                "INSERT INTO contacts_fts(rowid, search_text) "
                f"SELECT id, search_text FROM contacts WHERE id IN ({marks})"
            )
        )


def reindex(session: Session, old: Iterable[tuple[int, str]]) -> None:
    """Re-index contacts whose search_text changed while paused, given their old texts."""
    if not _sqlite(session):
        return
    old = list(old)
    if not old:
        return
    session.execute(
        text(
            "INSERT INTO contacts_fts(contacts_fts, rowid, search_text) "
            "VALUES ('delete', :id, :old)"
        ),
        [{"id": cid, "old": text_ or ""} for cid, text_ in old],
    )
    index_new(session, [cid for cid, _ in old])
