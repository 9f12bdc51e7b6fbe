"""Settings pages (admins only): users, custom field definitions, the instance's configuration."""

from __future__ import annotations

from typing import Any

from babel import Locale
from flask import (
    Response,
    current_app,
    flash,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.auth.models import ROLES, User
from app.auth.permissions import actor, require
from app.contacts.fields import ValidationFailed
from app.contacts.models import CUSTOM_FIELD_TYPES, Contact, CustomField
from app.extensions import db
from app.htmx import is_htmx, redirect, render
from app.settings import bp, customfields, users
from app.settings.customfields import TYPE_LABELS, WITH_OPTIONS
from app.settings.users import ROLE_LABELS, Refused


def translated(errors: dict[str, Any]) -> dict[str, str]:
    """Field messages in the user's language as plain text; (message, params) are filled in
    after translation, so a value never becomes part of the message looked up."""
    out = {}
    for field, message in errors.items():
        if isinstance(message, tuple):
            out[field] = _(message[0], **message[1])
        else:
            out[field] = _(message)
    return out


def _configuration() -> list[tuple[str, str]]:
    """What the instance runs on, read-only; never a secret or a connection string."""
    dialect = db.engine.dialect.name
    kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(dialect, dialect)
    version = db.engine.dialect.server_version_info
    if version:
        kind += " " + ".".join(str(part) for part in version[:2])
    limit = current_app.config.get("CONTACT_LIMIT")
    contacts = db.session.scalar(select(func.count()).select_from(Contact)) or 0
    if limit is None:
        cap = _("Unlimited (%(n)s contacts)", n=contacts)
    else:
        cap = _(
            "%(limit)s (%(n)s used, %(left)s left)",
            limit=limit,
            n=contacts,
            left=max(0, limit - contacts),
        )
    languages = ", ".join(
        Locale.parse(code).get_display_name(get_locale()) or code
        for code in current_app.config.get("LANGUAGES", ["en"])
    )
    jobs = _("Redis") if current_app.config.get("REDIS_URL") else _("SQLite (instance folder)")
    return [
        (_("Database"), kind),
        (_("Contact limit"), cap),
        (_("Languages"), languages),
        (_("Background jobs"), jobs),
        (
            _("Instance folder"),
            str(current_app.config.get("INSTANCE_DIR", current_app.instance_path)),
        ),
        (_("Page size"), str(current_app.config.get("PAGE_SIZE", 50))),
    ]


def _page(status: int = 200, **context):
    context.setdefault("user_form", {})
    context.setdefault("user_errors", {})
    context.setdefault("field_form", {"type": "text"})
    context.setdefault("field_errors", {})
    return render(
        "settings/index.html",
        status=status,
        users=users.users(),
        roles=ROLES,
        role_labels=ROLE_LABELS,
        fields=customfields.definitions(),
        types=CUSTOM_FIELD_TYPES,
        type_labels=TYPE_LABELS,
        with_options=WITH_OPTIONS,
        configuration=_configuration(),
        **context,
    )


@bp.route("/")
@require("admin")
def index():
    return _page()


# --- Users ----------------------------------------------------------------------------


def _user_row(user: User, **extra) -> Response:
    body = render_template(
        "settings/_user_row.html", user=user, roles=ROLES, role_labels=ROLE_LABELS, **extra
    )
    response = make_response(body, 200)
    response.vary.add("HX-Request")
    return response


@bp.route("/users", methods=["POST"])
@require("admin")
def add_user():
    try:
        user = users.add_user(request.form, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        form = {k: v for k, v in request.form.items() if k != "password"}
        return _page(422, user_form=form, user_errors=translated(exc.errors))
    db.session.commit()
    flash(_("User %(email)s added.", email=user.email), "success")
    return redirect(url_for("settings.index") + "#users")


def _user_change(user_id: int, change) -> Response:
    """Run a change on a user; answer the row (htmx) or go back to the page with a message."""
    user = db.get_or_404(User, user_id)
    try:
        changed = change(user)
    except Refused as exc:
        db.session.rollback()
        user = db.get_or_404(User, user_id)
        if is_htmx():
            return _user_row(user, error=_(exc.message))
        flash(_(exc.message), "error")
        return redirect(url_for("settings.index") + "#users")
    except ValidationFailed as exc:
        db.session.rollback()
        user = db.get_or_404(User, user_id)
        message = " ".join(translated(exc.errors).values())
        if is_htmx():
            return _user_row(user, error=message)
        flash(message, "error")
        return redirect(url_for("settings.index") + "#users")
    db.session.commit()
    if is_htmx():
        return _user_row(user, saved=changed)
    if changed:
        flash(_("User %(email)s saved.", email=user.email), "success")
    return redirect(url_for("settings.index") + "#users")


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@require("admin")
def user_role(user_id: int):
    role = request.form.get("role", "")
    return _user_change(user_id, lambda u: users.change_role(u, role, actor=actor()))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@require("admin")
def deactivate_user(user_id: int):
    return _user_change(user_id, lambda u: users.set_active(u, False, actor=actor()))


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@require("admin")
def reactivate_user(user_id: int):
    return _user_change(user_id, lambda u: users.set_active(u, True, actor=actor()))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@require("admin")
def user_password(user_id: int):
    user = db.get_or_404(User, user_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            users.set_password(user, request.form.get("password", ""), actor=actor())
        except ValidationFailed as exc:
            db.session.rollback()
            errors = translated(exc.errors)
        else:
            db.session.commit()
            flash(_("Password of %(email)s changed.", email=user.email), "success")
            return redirect(url_for("settings.index") + "#users")
    return render("settings/password.html", status=422 if errors else 200, user=user, errors=errors)


# --- Custom fields ---------------------------------------------------------------------


@bp.route("/fields", methods=["POST"])
@require("admin")
def add_field():
    try:
        field = customfields.create_field(request.form, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(422, field_form=request.form, field_errors=translated(exc.errors))
    db.session.commit()
    flash(_("Custom field %(label)s added.", label=field.label), "success")
    return redirect(url_for("settings.index") + "#fields")


def _field_form(field: CustomField) -> dict[str, str]:
    return {
        "label": field.label,
        "options": "\n".join(field.options or []),
        "position": str(field.position),
    }


@bp.route("/fields/<int:field_id>", methods=["GET", "POST"])
@require("admin")
def edit_field(field_id: int):
    field = db.get_or_404(CustomField, field_id)
    errors: dict[str, str] = {}
    form = _field_form(field)
    if request.method == "POST":
        data = {k: request.form[k] for k in ("label", "options", "position") if k in request.form}
        try:
            customfields.update_field(field, data, actor=actor())
        except ValidationFailed as exc:
            db.session.rollback()
            field = db.get_or_404(CustomField, field_id)
            errors = translated(exc.errors)
            form = {**form, **data}
        else:
            db.session.commit()
            flash(_("Custom field %(label)s saved.", label=field.label), "success")
            return redirect(url_for("settings.index") + "#fields")
    return render(
        "settings/field.html",
        status=422 if errors else 200,
        field=field,
        form=form,
        errors=errors,
        type_labels=TYPE_LABELS,
        with_options=WITH_OPTIONS,
    )


@bp.route("/fields/<int:field_id>/delete")
@require("admin")
def confirm_delete_field(field_id: int):
    field = db.get_or_404(CustomField, field_id)
    holders = customfields.value_counts(field.id).get(field.id, 0)
    return render("settings/field_delete.html", field=field, holders=holders)


@bp.route("/fields/<int:field_id>/delete", methods=["POST"])
@require("admin")
def delete_field(field_id: int):
    field = db.get_or_404(CustomField, field_id)
    label = field.label
    customfields.delete_field(field, actor=actor())
    db.session.commit()
    if is_htmx():
        response = make_response("", 200)
        response.vary.add("HX-Request")
        return response
    flash(_("Custom field %(label)s deleted with its values.", label=label), "success")
    return redirect(url_for("settings.index") + "#fields")
