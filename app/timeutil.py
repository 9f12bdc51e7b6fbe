"""Time helpers: Kontor stores naive UTC datetimes in every database."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (the form stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
