"""The deal form: what it shows (posted values, a deal's, or blanks) and what it posts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from app.companies.models import Company
from app.contacts.models import Contact
from app.contacts.query import ContactQuery, fetch_page
from app.extensions import db
from app.pipeline.models import Deal
from app.pipeline.service import DEFAULT_CURRENCY, KEYS

PICK_SIZE = 10


def posted(form: Mapping[str, str]) -> dict[str, str]:
    """The deal fields a form posted (absent ones left out, so an edit is partial)."""
    return {k: form[k] for k in KEYS if k in form}


def blank(args: Mapping[str, str], owner_id: int | None) -> dict[str, str]:
    """A new deal's form, prefilled from the URL (?stage=&contact=&company=)."""
    values = dict.fromkeys(KEYS, "")
    values["currency"] = DEFAULT_CURRENCY
    values["owner"] = str(owner_id or "")
    for key in ("stage", "contact", "company", "title"):
        if args.get(key):
            values[key] = args[key]
    contact_id = values["contact"]
    if contact_id.isdigit():
        contact = db.session.get(Contact, int(contact_id))
        if contact is not None:
            values["contact"] = contact.email
            if not values["company"] and contact.company_id:
                values["company"] = str(contact.company_id)
    company = values["company"]
    if company.isdigit():
        row = db.session.get(Company, int(company))
        values["company"] = row.name if row else ""
    return values


def of_deal(deal: Deal) -> dict[str, str]:
    """A deal's values as the form shows them (contact by email, company by name)."""
    contact = db.session.get(Contact, deal.contact_id) if deal.contact_id else None
    company = db.session.get(Company, deal.company_id) if deal.company_id else None
    values: dict[str, Any] = {
        "title": deal.title,
        "value": "" if deal.value is None else f"{deal.value:.2f}",
        "currency": deal.currency,
        "stage": deal.stage_id,
        "contact": contact.email if contact else "",
        "company": company.name if company else "",
        "owner": deal.owner_id or "",
        "expected_close_date": deal.expected_close_date.isoformat()
        if deal.expected_close_date
        else "",
        "closed_reason": deal.closed_reason or "",
    }
    return {k: str(v) for k, v in values.items()}


def pick_contacts(q: str) -> list[tuple[str, str]]:
    """Contacts matching `q` as the contact list's search does: (email, "Name <email>")."""
    if not q.strip():
        return []
    contacts, _cursor = fetch_page(db.session, ContactQuery(q=q.strip()[:200], limit=PICK_SIZE))
    out = []
    for contact in contacts:
        name = contact.full_name
        out.append((contact.email, f"{name} <{contact.email}>" if name else contact.email))
    return out


def pick_companies(q: str) -> list[str]:
    """Company names containing `q` (case-insensitive)."""
    text = q.strip().lower()[:100]
    if not text:
        return []
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(
        db.session.scalars(
            select(Company.name)
            .where(func.lower(Company.name).like(f"%{escaped}%", escape="\\"))
            .order_by(func.lower(Company.name))
            .limit(PICK_SIZE)
        )
    )
