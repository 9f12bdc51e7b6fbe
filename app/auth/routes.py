"""Login and logout pages (rate-limited login)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app import audit
from app.auth import bp
from app.auth.models import User
from app.auth.permissions import public, require
from app.extensions import db, limiter, login_manager
from app.timeutil import utcnow


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("contacts.index")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None or not user.check_password(password) or not user.active:
            error = _("Wrong email or password.")
        else:
            login_user(user, remember=bool(request.form.get("remember")))
            user.last_login_at = utcnow()
            audit.record("login", "user", user.id, actor=user, via="web")
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error, email=email), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@require("read")
def account():
    """The logged-in user's own name, language and password."""
    user = current_user
    errors: dict[str, str] = {}
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:200]
        locale = request.form.get("locale", "")
        new_password = request.form.get("new_password", "")
        if locale not in ("", "en", "fr"):
            errors["locale"] = _("Choose English or French.")
        if new_password:
            if not user.check_password(request.form.get("current_password", "")):
                errors["current_password"] = _("This is not your current password.")
            elif len(new_password) < 8:
                errors["new_password"] = _("Use at least 8 characters.")
        if not errors:
            changes = {}
            if name != (user.name or ""):
                changes["name"] = [user.name, name]
                user.name = name or None
            if (locale or None) != user.locale:
                changes["locale"] = [user.locale, locale or None]
                user.locale = locale or None
            if new_password:
                user.set_password(new_password)
                changes["password"] = ["***", "***"]
            if changes:
                audit.record("update", "user", user.id, changes, actor=user, via="web")
                db.session.commit()
            flash(_("Your account is saved."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", errors=errors), 422 if errors else 200
