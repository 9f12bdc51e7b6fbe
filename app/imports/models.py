"""An import: the uploaded file, how it was read and mapped, its options, and the rows it refused.

What an import changed is recorded on each contact's "import" activity
(external_id "import:<import id>:<contact id>"), which is also the undo log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

POLICIES = ("update", "skip", "create")


class Import(db.Model):
    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    undo_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(500))  # the stored upload, under the instance folder
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(10))  # csv | vcard
    encoding: Mapped[str] = mapped_column(String(40))
    delimiter: Mapped[str | None] = mapped_column(String(5))
    header_line: Mapped[int] = mapped_column(Integer, default=0)
    headers: Mapped[list] = mapped_column(JSON)
    mapping: Mapped[list | None] = mapped_column(JSON)  # a target key per column, "" ignores
    options: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="draft")  # draft, started, undone
    total_estimate: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)


class ImportRowError(db.Model):
    """A row the import refused: its number, the reason and the original cells."""

    __tablename__ = "import_errors"
    __table_args__ = (Index("ix_import_errors_import_row", "import_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    cells: Mapped[list | None] = mapped_column(JSON)
