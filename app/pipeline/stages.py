"""Pipeline stages: the default set created on first run."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.pipeline.models import DEFAULT_STAGES, Stage


def ensure_default_stages() -> None:
    """Create Lead … Lost when no stage exists yet."""
    if db.session.scalar(select(func.count()).select_from(Stage)):
        return
    for position, (name, outcome) in enumerate(DEFAULT_STAGES):
        db.session.add(Stage(name=name, position=position, outcome=outcome))
    db.session.commit()
