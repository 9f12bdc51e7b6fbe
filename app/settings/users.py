"""User management for admins: add, change role, deactivate, reactivate, set a password.

Guards: there is always at least one active admin (the last one cannot be
demoted or deactivated) and nobody deactivates themselves. Error messages are
N_ strings; every change leaves an audit entry (never a password) in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from app import audit
from app.auth.models import ROLES, User
from app.contacts.fields import FieldError, ValidationFailed, clean_email
from app.extensions import db
from app.i18n import N_

ROLE_LABELS = {"admin": N_("Admin"), "member": N_("Member"), "viewer": N_("Viewer")}
MIN_PASSWORD = 8


class Refused(Exception):
    """The change would break a guard; `message` (an N_ string) says which."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.email)))


def _active_admins() -> int:
    query = select(User.id).where(User.role == "admin", User.active.is_(True))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two admins demoting each other wait for one another
    return len(db.session.scalars(query).all())


def _check_password(password: str, errors: dict[str, Any]) -> None:
    if len(password) < MIN_PASSWORD:
        errors["password"] = (
            N_("A password has at least %(n)s characters."),
            {"n": MIN_PASSWORD},
        )
    elif len(password) > 200:
        errors["password"] = N_("A password is at most 200 characters.")


def add_user(data: Mapping[str, Any], *, actor=None, via: str = "web") -> User:
    """A new user with a role and an initial password. Raises ValidationFailed."""
    errors: dict[str, Any] = {}
    email = ""
    try:
        email = clean_email(str(data.get("email") or ""))
    except FieldError as exc:
        errors["email"] = exc.message
    if email and db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        errors["email"] = N_("A user with this email exists already.")
    name = " ".join(str(data.get("name") or "").split())
    if len(name) > 200:
        errors["name"] = N_("A name is at most 200 characters.")
    role = str(data.get("role") or "")
    if role not in ROLES:
        errors["role"] = N_("Choose admin, member or viewer.")
    password = str(data.get("password") or "")
    _check_password(password, errors)
    if errors:
        raise ValidationFailed(errors)
    user = User(email=email, name=name or None, role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", user.id, {"email": email, "role": role}, actor=actor, via=via)
    return user


def change_role(user: User, role: str, *, actor=None, via: str = "web") -> bool:
    """Give `user` another role; False when it already had it. Raises Refused, ValidationFailed."""
    if role not in ROLES:
        raise ValidationFailed({"role": N_("Choose admin, member or viewer.")})
    if role == user.role:
        return False
    if user.role == "admin" and user.active and _active_admins() <= 1:
        raise Refused(N_("This is the last active admin: make someone else admin first."))
    audit.record("update", "user", user.id, {"role": [user.role, role]}, actor=actor, via=via)
    user.role = role
    return True


def set_active(user: User, active: bool, *, actor=None, via: str = "web") -> bool:
    """Deactivate (cannot log in or use its API tokens) or reactivate a user.

    Raises Refused for yourself or the last active admin; False when nothing changed.
    """
    if bool(user.active) == active:
        return False
    if not active:
        if actor is not None and user.id == actor.id:
            raise Refused(N_("You cannot deactivate yourself."))
        if user.role == "admin" and _active_admins() <= 1:
            raise Refused(N_("This is the last active admin: make someone else admin first."))
    audit.record(
        "update", "user", user.id, {"active": [bool(user.active), active]}, actor=actor, via=via
    )
    user.active = active
    return True


def set_password(user: User, password: str, *, actor=None, via: str = "web") -> None:
    """Replace a user's password (for a forgotten one). Raises ValidationFailed."""
    errors: dict[str, Any] = {}
    _check_password(password, errors)
    if errors:
        raise ValidationFailed(errors)
    user.set_password(password)
    audit.record("update", "user", user.id, {"password": "changed"}, actor=actor, via=via)
