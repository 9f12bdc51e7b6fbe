"""/api/v1/companies: list with search, create, read, patch, delete (app.companies.service)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from app import audit
from app.api import bp
from app.api.common import (
    ApiError,
    check_args,
    envelope,
    json_body,
    keyset_page,
    page_limit,
    validation_error,
)
from app.auth.models import User
from app.auth.permissions import actor, require
from app.companies.models import Company
from app.companies.service import (
    BY_NAME,
    SPECS,
    CompanyConflict,
    DuplicateCompany,
    contact_counts,
    create_company,
    delete_company,
    search_condition,
    update_company,
)
from app.extensions import db

ALIASES = {"owner_id": "owner"}


@bp.errorhandler(DuplicateCompany)
def _duplicate(exc: DuplicateCompany):
    db.session.rollback()
    return ApiError(
        409,
        _("Another company has this name."),
        field="name",
        code="duplicate",
        existing_id=exc.existing_id,
    ).response()


@bp.errorhandler(CompanyConflict)
def _conflict(exc: CompanyConflict):
    db.session.rollback()
    return ApiError(
        409,
        _("Someone else changed this company since you loaded it; nothing was saved."),
        field="version",
        code="conflict",
        version=exc.company.version,
        current=audit.jsonable(exc.current),
    ).response()


def owner_emails(companies: list[Company]) -> dict[int, str]:
    """Emails of the owners of `companies`, by user id, in one query."""
    ids = {c.owner_id for c in companies if c.owner_id}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {user_id: email for user_id, email in rows}


def company_to_dict(
    company: Company, contact_count: int, owners: dict[int, str] | None = None
) -> dict[str, Any]:
    """The API form of a company."""
    out: dict[str, Any] = {"id": company.id}
    for spec in SPECS:
        if spec.type != "ref":
            out[spec.name] = getattr(company, spec.db_column)
    if owners is None:
        owners = owner_emails([company])
    out["owner"] = owners.get(company.owner_id) if company.owner_id else None
    out["owner_id"] = company.owner_id
    out["contact_count"] = contact_count
    out["created_at"] = audit.jsonable(company.created_at)
    out["updated_at"] = audit.jsonable(company.updated_at)
    out["version"] = company.version
    return out


def company_input(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the service takes it: known keys only (422 naming an unknown one),
    the owner given by email turned into an id."""
    data = {ALIASES.get(k, k): v for k, v in body.items()}
    unknown = {k: _("Unknown field.") for k in data if k not in BY_NAME}
    if unknown:
        raise validation_error(unknown)
    owner = data.get("owner")
    if isinstance(owner, str) and "@" in owner:
        user_id = db.session.scalar(select(User.id).where(User.email == owner.strip().lower()))
        if user_id is None:
            raise validation_error({"owner": _("No such user.")})
        data["owner"] = user_id
    return data


def _get(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None:
        raise ApiError(404, _("No company with id %(id)s.", id=company_id))
    return company


def _one(company: Company):
    return jsonify(company_to_dict(company, contact_counts([company.id]).get(company.id, 0)))


@bp.get("/api/v1/companies")
@require("read")
def companies_list():
    """A page of companies by name; `q` keeps those whose name contains it (or domain starts)."""
    check_args({"q", "limit", "cursor"})
    stmt = select(Company)
    q = request.args.get("q", "").strip()[:200]
    if q:
        stmt = stmt.where(search_condition(q))
    rows, next_cursor = keyset_page(stmt, [func.lower(Company.name), Company.id], page_limit())
    companies = [row[0] for row in rows]
    counts = contact_counts([c.id for c in companies])
    owners = owner_emails(companies)
    return envelope(
        [company_to_dict(c, counts.get(c.id, 0), owners) for c in companies], next_cursor
    )


@bp.post("/api/v1/companies")
@require("write")
def companies_create():
    """Create a company: 201 and the company."""
    company = create_company(company_input(json_body()), actor=actor(), via="api")
    db.session.commit()
    return jsonify(company_to_dict(company, 0)), 201


@bp.get("/api/v1/companies/<int:company_id>")
@require("read")
def companies_get(company_id: int):
    """One company with its number of contacts."""
    return _one(_get(company_id))


@bp.patch("/api/v1/companies/<int:company_id>")
@require("write")
def companies_patch(company_id: int):
    """Change the fields given (null clears); a stale "version" is a 409."""
    company = _get(company_id)
    body = json_body()
    if body.get("id", company.id) != company.id:
        raise validation_error({"id": _("The id cannot be changed.")})
    body.pop("id", None)
    version = body.pop("version", None)
    if version is not None and (isinstance(version, bool) or not str(version).isdigit()):
        raise validation_error({"version": _("Enter a whole number.")})
    update_company(
        company,
        company_input(body),
        expected_version=None if version is None else int(version),
        actor=actor(),
        via="api",
    )
    db.session.commit()
    return _one(company)


@bp.delete("/api/v1/companies/<int:company_id>")
@require("write")
def companies_delete(company_id: int):
    """Delete a company; its contacts stay, without a company."""
    delete_company(_get(company_id), actor=actor(), via="api")
    db.session.commit()
    return "", 204
