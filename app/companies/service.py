"""Companies: validation, listing with contact counts, create, edit and delete.

The one code path behind the company pages (and any later API or import):
every write leaves an audit entry in the caller's transaction; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update

from app import audit
from app.auth.models import User
from app.companies.models import Company
from app.contacts import events
from app.contacts.fields import FieldError, FieldSpec, ValidationFailed, clean_value
from app.contacts.models import Contact
from app.extensions import db
from app.i18n import N_
from app.timeline.models import Activity
from app.timeutil import utcnow

SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("name", N_("Name"), "text", "company", max_length=300),
    FieldSpec("domain", N_("Domain"), "text", "company", max_length=255),
    FieldSpec("website", N_("Website"), "url", "company", max_length=500),
    FieldSpec("industry", N_("Industry"), "text", "company", max_length=200),
    FieldSpec("size", N_("Size"), "text", "company", max_length=50),
    FieldSpec("phone", N_("Phone"), "phone", "company"),
    FieldSpec("address_line1", N_("Address"), "text", "company", max_length=300),
    FieldSpec("city", N_("City"), "text", "company", max_length=200),
    FieldSpec("postcode", N_("Postcode"), "text", "company", max_length=30),
    FieldSpec("country", N_("Country"), "country", "company"),
    FieldSpec("description", N_("Description"), "text", "company", max_length=5000),
    FieldSpec("owner", N_("Owner"), "ref", "company", column="owner_id", extra={"ref": "user"}),
)
BY_NAME: dict[str, FieldSpec] = {s.name: s for s in SPECS}
PAGE_SIZE = 50
_DOMAIN = re.compile(r"^(?=.{1,253}$)([^\W_]([\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$", re.UNICODE)


class CompanyConflict(Exception):
    """Someone else saved the company since the form was loaded."""

    def __init__(self, company: Company, current: dict[str, Any]):
        super().__init__("the company was changed by someone else")
        self.company = company
        self.current = current


class DuplicateCompany(Exception):
    """Another company has this name already (names are compared case-insensitively)."""

    def __init__(self, existing_id: int):
        super().__init__("a company with this name exists")
        self.existing_id = existing_id


def clean_domain(value: str) -> str:
    """A bare domain name ("https://www.Acme.com/about" -> "acme.com"). Raises FieldError."""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.removeprefix("www.").rstrip(".")
    if not _DOMAIN.match(text):
        raise FieldError("domain", N_("Enter a domain name such as example.com."))
    return text


def clean_company(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate company fields given by a form; return values by column.

    A missing key is left alone when `partial`; the name is required otherwise.
    Raises ValidationFailed naming every bad field; nothing is written.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    country = str(data.get("country") or "").strip()
    region = country.upper() if len(country) == 2 else None
    for spec in SPECS:
        if spec.name not in data:
            if spec.name == "name" and not partial:
                errors["name"] = N_("A company needs a name.")
            continue
        raw = data[spec.name]
        try:
            if spec.name == "domain" and isinstance(raw, str) and raw.strip():
                value: Any = clean_domain(raw)
            else:
                value = clean_value(spec, raw, region=region)
        except FieldError as exc:
            errors[spec.name] = exc.message
            continue
        if spec.name == "name" and not value:
            errors["name"] = N_("A company needs a name.")
            continue
        if spec.type == "ref":
            value = _owner_id(value, errors)
        values[spec.db_column] = value
    if errors:
        raise ValidationFailed(errors)
    return values


def _owner_id(value: Any, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    user = None
    if isinstance(value, int) or str(value).strip().isdigit():
        user = db.session.get(User, int(value))
    if user is None:
        errors["owner"] = N_("No such user.")
        return None
    return user.id


def _check_name(name: str, company_id: int | None) -> None:
    query = select(Company.id).where(func.lower(Company.name) == name.lower())
    if company_id is not None:
        query = query.where(Company.id != company_id)
    existing = db.session.scalar(query.limit(1))
    if existing:
        raise DuplicateCompany(existing)


def shown_value(company: Company, column: str) -> Any:
    """A column's value as a person reads it (the owner's email, not an id)."""
    value = getattr(company, column)
    if column == "owner_id" and value:
        user = db.session.get(User, value)
        return user.email if user else value
    return value


def create_company(data: Mapping[str, Any], *, actor=None, via: str = "web") -> Company:
    """Create a company from form values. Raises ValidationFailed, DuplicateCompany."""
    values = clean_company(data)
    _check_name(values["name"], None)
    if actor is not None and "owner_id" not in values:
        values["owner_id"] = actor.id
    company = Company(version=1, **values)
    db.session.add(company)
    db.session.flush()
    audit.record(
        "create",
        "company",
        company.id,
        {k: v for k, v in values.items() if v not in (None, "")},
        actor=actor,
        via=via,
    )
    return company


def update_company(
    company: Company,
    data: Mapping[str, Any],
    *,
    expected_version: int | None = None,
    actor=None,
    via: str = "web",
) -> dict[str, list[Any]]:
    """Apply the given fields; return {field: [old, new]} of real changes.

    Raises ValidationFailed, DuplicateCompany, or CompanyConflict when the
    company was saved by someone else since `expected_version` was read (the
    check is part of the UPDATE, so two saves at once cannot both win).
    """
    if expected_version is not None and int(expected_version) != company.version:
        raise CompanyConflict(company, _current(company, data))
    values = clean_company(data, partial=True)
    if "name" in values:
        _check_name(values["name"], company.id)
    changes: dict[str, list[Any]] = {}
    for column, new in values.items():
        if getattr(company, column) != new:
            name = "owner" if column == "owner_id" else column
            old_shown = shown_value(company, column)
            new_shown = db.session.get(User, new).email if column == "owner_id" and new else new
            changes[name] = [old_shown, new_shown]
    if not changes:
        return changes
    version = company.version
    result = db.session.execute(
        update(Company)
        .where(Company.id == company.id, Company.version == version)
        .values(**values, version=version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(company)
        raise CompanyConflict(company, _current(company, data))
    db.session.refresh(company)
    if "name" in changes:
        from app.contacts.service import refresh_search_text_for_company

        refresh_search_text_for_company(company.id)
        people = select(Contact.id).where(Contact.company_id == company.id)
        events.emit("updated", people, fields=("company",), via=via)
    audit.record("update", "company", company.id, changes, actor=actor, via=via)
    return changes


def _current(company: Company, data: Mapping[str, Any]) -> dict[str, Any]:
    return {spec.name: shown_value(company, spec.db_column) for spec in SPECS if spec.name in data}


def delete_company(company: Company, *, actor=None, via: str = "web") -> int:
    """Delete a company; its contacts stay, without a company (timeline says so).

    Returns how many contacts were detached.
    """
    from app.contacts.service import update_contact

    contacts = list(
        db.session.scalars(
            select(Contact).where(Contact.company_id == company.id).order_by(Contact.id)
        )
    )
    for contact in contacts:
        update_contact(contact, {"company": None}, actor=actor, via=via)
    detached = len(contacts)
    # Contacts' timeline entries outlive the company (the column cascades on delete).
    db.session.execute(
        update(Activity)
        .where(Activity.company_id == company.id, Activity.contact_id.is_not(None))
        .values(company_id=None)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        "delete",
        "company",
        company.id,
        {"name": company.name, "contacts_detached": detached},
        actor=actor,
        via=via,
    )
    db.session.delete(company)
    db.session.flush()
    return detached


@dataclass
class CompanyRow:
    company: Company
    contacts: int


def search_condition(q: str):
    """Companies whose name contains `q` or whose domain starts with it (case-insensitive)."""
    text = q.strip().lower()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(
        func.lower(Company.name).like(f"%{escaped}%", escape="\\"),
        Company.domain.like(f"{escaped}%", escape="\\"),
    )


def list_companies(q: str = "", page: int = 1) -> tuple[list[CompanyRow], int]:
    """One page of companies by name with their (unarchived) contact counts, and the total.

    Two queries plus one grouped count, whatever the page size.
    """
    base = select(Company)
    if q.strip():
        base = base.where(search_condition(q))
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page = max(1, page)
    companies = list(
        db.session.scalars(
            base.order_by(func.lower(Company.name), Company.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    counts = contact_counts([c.id for c in companies])
    return [CompanyRow(c, counts.get(c.id, 0)) for c in companies], total


def contact_counts(company_ids: list[int]) -> dict[int, int]:
    """Unarchived contacts per company, in one grouped query."""
    if not company_ids:
        return {}
    rows = db.session.execute(
        select(Contact.company_id, func.count())
        .where(Contact.company_id.in_(company_ids), Contact.archived_at.is_(None))
        .group_by(Contact.company_id)
    )
    return {company_id: n for company_id, n in rows}
