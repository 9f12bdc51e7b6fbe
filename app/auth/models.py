"""Users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.i18n import N_
from app.timeutil import utcnow

ROLES = ("admin", "member", "viewer")
ROLE_LABELS = {"admin": N_("Admin"), "member": N_("Member"), "viewer": N_("Viewer")}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(10), default="member")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def set_password(self, password: str) -> None:
        from flask import current_app

        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return bool(self.active)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def can(self, action: str) -> bool:
        """Whether this user's role allows `action` ("read", "write" or "admin")."""
        return action in PERMISSIONS[self.role]


PERMISSIONS = {
    "viewer": {"read"},
    "member": {"read", "write"},
    "admin": {"read", "write", "admin"},
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @classmethod
    def issue(cls, user: User, name: str = "") -> tuple[ApiToken, str]:
        """Create a token for `user`; returns the row and the secret, shown only once."""
        secret = "ktr_" + secrets.token_urlsafe(32)
        row = cls(user=user, name=name, token_hash=hash_token(secret), prefix=secret[:12])
        return row, secret
