"""Deals and the pipeline stages they move through."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

DEFAULT_STAGES = (
    ("Lead", "open"),
    ("Qualified", "open"),
    ("Proposal", "open"),
    ("Negotiation", "open"),
    ("Won", "won"),
    ("Lost", "lost"),
)


class Stage(db.Model):
    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(10), default="open")


class Deal(db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_stage_position", "stage_id", "position"),
        Index("ix_deals_contact_id", "contact_id"),
        Index("ix_deals_company_id", "company_id"),
        # Board totals (count and sum by stage and currency) read from the index alone,
        # for everyone's board and for an owner's ("my deals").
        Index("ix_deals_stage_currency_value", "stage_id", "currency", "value"),
        Index("ix_deals_owner_stage", "owner_id", "stage_id", "currency", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    position: Mapped[float] = mapped_column(Float, default=0)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
