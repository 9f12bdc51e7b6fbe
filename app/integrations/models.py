"""Accounts connected to an integration plugin (tokens encrypted at rest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow


class ConnectedAccount(db.Model):
    """One account of a provider that Kontor syncs with.

    ``status``: connected, needs_reconnect (the provider refused the credentials),
    error (the last sync failed), disconnected. ``token_encrypted`` holds the OAuth token
    or the API keys (app.integrations.crypto). ``sync_cursor`` maps each synced stream
    (``contacts``, ``activities``, ``push``) to the plugin's cursor.
    """

    __tablename__ = "connected_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(50), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    label: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="connected")
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict | None] = mapped_column(JSON)
    sync_cursor: Mapped[dict | None] = mapped_column(JSON)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list | None] = mapped_column(JSON)
    details: Mapped[dict | None] = mapped_column(JSON)
    sync_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ContactLink(db.Model):
    """A contact as known at one connected account: its remote id, when the provider
    last changed it, and the contact's version when the two were last in step (a higher
    version means Kontor changed it since: it is pushed, or on conflict compared).

    ``deleted_at``: when the provider reported its record deleted. The link stays as a
    tombstone so that Kontor does not push the contact there again (which would
    re-create what a user deleted); it is cleared if the record comes back."""

    __tablename__ = "contact_links"
    __table_args__ = (
        UniqueConstraint("account_id", "remote_id", name="uq_contact_links_account_remote"),
        UniqueConstraint("account_id", "contact_id", name="uq_contact_links_account_contact"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("connected_accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    remote_id: Mapped[str] = mapped_column(String(200))
    remote_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    synced_version: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
