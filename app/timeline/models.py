"""Activities: everything that happened to a contact, shown on its timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

ACTIVITY_KINDS = (
    "email_sent",
    "email_received",
    "email_opened",
    "email_clicked",
    "email_bounced",
    "complaint",
    "unsubscribe",
    "call",
    "meeting",
    "note",
    "task",
    "form_submit",
    "deal_created",
    "deal_stage_changed",
    "deal_won",
    "deal_lost",
    "field_change",
    "merge",
    "import",
    "score_threshold",
    "custom_event",
)

# Kinds that count as the business reaching the contact ("last contacted").
CONTACTING_KINDS = ("email_sent", "call", "meeting")


class Activity(db.Model):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_activities_contact_kind_occurred", "contact_id", "kind", "occurred_at"),
        # Segments: activities of a kind in a window, by contact (covering).
        Index("ix_activities_kind_occurred_contact", "kind", "occurred_at", "contact_id"),
        # Imports (event_name, contact_id); segments: a custom event's count/sum/... per
        # contact in a window, read in contact order without the table (covering).
        Index(
            "ix_activities_event_contact_occurred",
            "event_name",
            "contact_id",
            "kind",
            "occurred_at",
            "value",
        ),
        Index("ix_activities_company_occurred", "company_id", "occurred_at"),
        Index("ix_activities_deal_id", "deal_id"),
        # "My follow-ups": open tasks of a user by due date.
        Index("ix_activities_user_kind_open_due", "user_id", "kind", "completed_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    event_name: Mapped[str | None] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(50))
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
