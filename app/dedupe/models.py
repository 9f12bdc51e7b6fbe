"""Duplicate detection: match keys for blocking, suggested pairs, and merges (with undo)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

PAIR_STATUSES = ("open", "dismissed", "merged")


class MatchKey(db.Model):
    """One blocking key of a contact (normalised email, phone, name keys, ...).

    Two contacts sharing a key are candidates; the scan reads keys grouped (through
    ix_match_keys_key), the create-time check looks up the new contact's keys. The
    primary key leads with the contact: a full rebuild appends keys in contact order
    (on SQLite the table is WITHOUT ROWID: that one B-tree is the table) and builds the
    key index once at the end, and a contact's keys are one range to replace.
    """

    __tablename__ = "match_keys"
    __table_args__ = (
        Index("ix_match_keys_key", "key", "contact_id"),
        {"sqlite_with_rowid": False},
    )

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)


class MatchKeyBuild(db.Model):
    """Match keys being rebuilt by a scan on PostgreSQL: copied in (COPY) without an
    index, then moved into match_keys in one statement, then emptied."""

    __tablename__ = "match_keys_build"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    contact_id: Mapped[int] = mapped_column(Integer)


class DuplicatePair(db.Model):
    """A suggested pair (contact_a_id < contact_b_id) with its score and reasons.

    A dismissed pair is kept so it is never suggested again; a rescan replaces only
    open pairs. Pairs of one person sharing a cluster carry the same cluster_id.
    """

    __tablename__ = "duplicate_pairs"
    __table_args__ = (
        Index("ix_duplicate_pairs_ab", "contact_a_id", "contact_b_id", unique=True),
        Index("ix_duplicate_pairs_b", "contact_b_id"),
        Index("ix_duplicate_pairs_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_a_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    contact_b_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list | None] = mapped_column(JSON)
    cluster_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Merge(db.Model):
    """One merge: what the survivor and the merged contact were, and what moved.

    `survivor_before` and `merged_snapshot` are full snapshots (fields, tags, custom
    values, list memberships); `moved` lists the ids of rows re-pointed to the survivor,
    by table, so undo puts back exactly those.
    """

    __tablename__ = "merges"
    __table_args__ = (Index("ix_merges_survivor_id", "survivor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    merged_contact_id: Mapped[int] = mapped_column(Integer)
    survivor_before: Mapped[dict] = mapped_column(JSON)
    merged_snapshot: Mapped[dict] = mapped_column(JSON)
    moved: Mapped[dict | None] = mapped_column(JSON)
    fields: Mapped[dict | None] = mapped_column(JSON)
    pair_id: Mapped[int | None] = mapped_column(
        ForeignKey("duplicate_pairs.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)
