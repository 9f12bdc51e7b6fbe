"""Audit trail: `record()` is called by every mutation, in the same transaction."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.audit.models import AuditEntry
from app.extensions import db


def jsonable(value: Any) -> Any:
    """A JSON-safe form of a field value (dates as ISO strings)."""
    if isinstance(value, datetime):
        # Stored datetimes are naive UTC: say so (RFC 3339).
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(column: Any, value: Any) -> Any:
    """The inverse of jsonable() for a column: ISO strings back to dates and datetimes."""
    if value is None:
        return None
    try:
        python_type = column.type.python_type
    except NotImplementedError:  # a type without a Python equivalent: keep the value
        return value
    if python_type is datetime and isinstance(value, str):
        return datetime.fromisoformat(value.removesuffix("Z"))
    if python_type is date and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def record(
    action: str,
    entity_type: str,
    entity_id: int | None,
    changes: dict | None = None,
    *,
    actor=None,
    via: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditEntry(
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=jsonable(changes) if changes else None,
        user_id=getattr(actor, "id", None),
        via=via,
    )
    db.session.add(entry)
    return entry
