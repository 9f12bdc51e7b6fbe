"""Companies pages: list with search, create, company page with inline edit, delete."""

from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.auth.permissions import actor, require
from app.companies import bp
from app.companies.models import Company
from app.companies.people import company_people
from app.companies.service import (
    PAGE_SIZE,
    SPECS,
    CompanyConflict,
    DuplicateCompany,
    contact_counts,
    create_company,
    delete_company,
    list_companies,
    shown_value,
    update_company,
)
from app.contacts.fields import ValidationFailed
from app.extensions import db
from app.htmx import is_htmx, redirect, render

FORM_KEYS = tuple(s.name for s in SPECS)


def _users() -> list[User]:
    return list(db.session.scalars(select(User).where(User.active).order_by(User.email)))


def _form_values(company: Company | None = None) -> dict[str, str]:
    """What the form shows: the posted values, else the company's, else blanks."""
    if request.method == "POST":
        return {k: request.form.get(k, "") for k in FORM_KEYS}
    if company is None:
        return dict.fromkeys(FORM_KEYS, "")
    out = {s.name: getattr(company, s.db_column) for s in SPECS}
    return {k: "" if v is None else str(v) for k, v in out.items()}


def translated(errors: dict[str, str]) -> dict[str, str]:
    """Field messages in the user's language, as plain text (escaped by the template)."""
    return {field: _(message) for field, message in errors.items()}


def _error_status() -> int:
    """htmx swaps only 2xx answers: a form with errors is 200 for it, 422 for a browser."""
    return 200 if is_htmx() else 422


def _index_page(form_errors: dict | None = None, status: int = 200, existing_id: int | None = None):
    q = request.args.get("q", "").strip()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    rows, total = list_companies(q, page)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        "companies/index.html",
        "results",
        status=status,
        rows=rows,
        total=total,
        q=q,
        page=page,
        pages=pages,
        form=_form_values(),
        errors=form_errors or {},
        open_form=bool(form_errors),
        existing_id=existing_id,
        users=_users(),
    )


@bp.route("/")
@require("read")
def index():
    return _index_page()


@bp.route("/", methods=["POST"])
@require("write")
def create():
    user = actor()
    try:
        company = create_company(request.form, actor=user)
    except ValidationFailed as exc:
        db.session.rollback()
        return _index_page(translated(exc.errors), status=422)
    except DuplicateCompany as exc:
        db.session.rollback()
        return _index_page(
            {"name": _("A company with this name exists already.")},
            status=422,
            existing_id=exc.existing_id,
        )
    db.session.commit()
    flash(_("Company created."), "success")
    return redirect(url_for("companies.show", company_id=company.id))


def _show(company: Company, *, editing: bool = False, **extra):
    count = contact_counts([company.id]).get(company.id, 0)
    owner = shown_value(company, "owner_id")
    block = "details" if request.method == "POST" or editing else None
    if block is None or not is_htmx():
        # The whole page: its people as a reports-to tree, and its timeline.
        from app.timeline.routes import company_timeline

        extra["people"], extra["people_total"] = company_people(db.session, company.id)
        extra["tl"] = company_timeline(company, request.args)
    return render(
        "companies/show.html",
        block,
        status=extra.pop("status", 200),
        company=company,
        contact_count=count,
        owner=owner,
        specs=SPECS,
        editing=editing,
        form=extra.pop("form", None) or _form_values(company),
        errors=extra.pop("errors", {}),
        users=_users(),
        **extra,
    )


@bp.route("/<int:company_id>")
@require("read")
def show(company_id: int):
    return _show(db.get_or_404(Company, company_id))


@bp.route("/<int:company_id>/edit")
@require("write")
def edit(company_id: int):
    return _show(db.get_or_404(Company, company_id), editing=True)


@bp.route("/<int:company_id>/edit", methods=["POST"])
@require("write")
def save(company_id: int):
    company = db.get_or_404(Company, company_id)
    data = {k: request.form[k] for k in FORM_KEYS if k in request.form}
    try:
        update_company(
            company, data, expected_version=request.form.get("version", type=int), actor=actor()
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _show(company, editing=True, errors=translated(exc.errors), status=_error_status())
    except DuplicateCompany as exc:
        db.session.rollback()
        return _show(
            company,
            editing=True,
            errors={"name": _("A company with this name exists already.")},
            existing_id=exc.existing_id,
            status=_error_status(),
        )
    except CompanyConflict as exc:
        db.session.rollback()
        company = db.get_or_404(Company, company_id)
        return _show(
            company,
            editing=True,
            conflict=_conflict(data, exc.current),
            status=200 if is_htmx() else 409,
        )
    db.session.commit()
    if is_htmx():
        return _show(company, saved=True)
    flash(_("Company saved."), "success")
    return redirect(url_for("companies.show", company_id=company.id))


def _conflict(mine: dict[str, str], theirs: dict) -> dict[str, tuple[str, str]]:
    """Fields where what this person sent differs from what is saved now."""
    out = {}
    for key, value in theirs.items():
        saved = "" if value is None else str(value)
        if mine.get(key, "").strip() != saved:
            out[key] = (mine.get(key, ""), saved)
    return out


@bp.route("/<int:company_id>/delete")
@require("write")
def confirm_delete(company_id: int):
    company = db.get_or_404(Company, company_id)
    count = contact_counts([company.id]).get(company.id, 0)
    return render("companies/delete.html", company=company, contact_count=count)


@bp.route("/<int:company_id>/delete", methods=["POST"])
@require("write")
def delete(company_id: int):
    company = db.get_or_404(Company, company_id)
    name = company.name
    delete_company(company, actor=actor())
    db.session.commit()
    flash(_("Company %(name)s deleted; its contacts were kept.", name=name), "success")
    return redirect(url_for("companies.index"))
