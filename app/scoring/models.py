"""Lead scoring rules and the app-wide scoring settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

RULE_KINDS = ("field", "activity")


class ScoringRule(db.Model):
    """A rule giving ± points.

    kind "field": `condition` is a segment condition leaf (or small tree) the contact
    must match. kind "activity": an activity of `activity_kind` within `within_days`
    gives `points` (per activity up to `max_count`, once when max_count is 1); with
    `decay_days`, an activity's points halve every decay_days of age.
    """

    __tablename__ = "scoring_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    condition: Mapped[dict | None] = mapped_column(JSON)
    activity_kind: Mapped[str | None] = mapped_column(String(30))
    event_name: Mapped[str | None] = mapped_column(String(100))
    within_days: Mapped[int | None] = mapped_column(Integer)
    max_count: Mapped[int] = mapped_column(Integer, default=1)
    decay_days: Mapped[int | None] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AppSetting(db.Model):
    """An app-wide setting an admin changes in the pages (e.g. the score threshold)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict | list | str | int | float | bool | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
