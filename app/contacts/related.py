"""Load what a page of contacts shows beside them (company, owner, tags, custom values)
in a fixed number of queries, whatever the page size; and the contact's JSON form."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import jsonable
from app.auth.models import User
from app.companies.models import Company
from app.contacts.custom import display_custom, value_column
from app.contacts.fields import FIELDS
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.query import CustomFieldInfo


@dataclass
class Related:
    """Everything shown beside a batch of contacts, keyed by contact or row id."""

    companies: dict[int, Company] = field(default_factory=dict)
    owners: dict[int, User] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)
    custom: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)  # reports_to / referred_by


def custom_field_infos(session: Session) -> list[CustomFieldInfo]:
    """Every custom field definition, in display order."""
    return [
        CustomFieldInfo(f.id, f.name, f.type, f.label, tuple(f.options or ()))
        for f in session.scalars(select(CustomField).order_by(CustomField.position, CustomField.id))
    ]


def load_related(
    session: Session,
    contacts: list[Contact],
    *,
    custom_fields: list[CustomFieldInfo] | None = None,
    with_refs: bool = False,
    only: set[str] | None = None,
) -> Related:
    """Batch-load companies, owners, tags and custom values of `contacts` (4-6 queries).

    `only` limits the work to what a page shows ("company", "owner", "tags", and
    custom field names as "cf.<name>"); None loads everything.
    """
    rel = Related()
    if not contacts:
        return rel
    ids = [c.id for c in contacts]
    wanted = (lambda key: True) if only is None else only.__contains__
    company_ids = {c.company_id for c in contacts if c.company_id} if wanted("company") else set()
    owner_ids = {c.owner_id for c in contacts if c.owner_id} if wanted("owner") else set()
    if company_ids:
        rel.companies = {
            c.id: c for c in session.scalars(select(Company).where(Company.id.in_(company_ids)))
        }
    if owner_ids:
        rel.owners = {u.id: u for u in session.scalars(select(User).where(User.id.in_(owner_ids)))}
    tags: dict[int, list[str]] = defaultdict(list)
    tag_rows = (
        ()
        if not wanted("tags")
        else session.execute(
            select(ContactTag.contact_id, Tag.name)
            .join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.contact_id.in_(ids))
            .order_by(Tag.name)
        )
    )
    for contact_id, name in tag_rows:
        tags[contact_id].append(name)
    rel.tags = dict(tags)
    if custom_fields is None:
        custom_fields = custom_field_infos(session)
    if only is not None:
        custom_fields = [f for f in custom_fields if f"cf.{f.name}" in only]
    if custom_fields:
        by_id = {f.id: f for f in custom_fields}
        raw: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for value in session.scalars(
            select(CustomFieldValue).where(
                CustomFieldValue.contact_id.in_(ids), CustomFieldValue.field_id.in_(list(by_id))
            )
        ):
            f = by_id[value.field_id]
            raw[value.contact_id][f.name].append(getattr(value, value_column(f.type)))
        types = {f.name: f.type for f in custom_fields}
        rel.custom = {
            cid: {name: display_custom(types[name], vals) for name, vals in fields.items()}
            for cid, fields in raw.items()
        }
    if with_refs:
        ref_ids = {c.reports_to_id for c in contacts if c.reports_to_id} | {
            c.referred_by_id for c in contacts if c.referred_by_id
        }
        if ref_ids:
            rel.contacts = {
                c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ref_ids)))
            }
    return rel


def contact_to_dict(contact: Contact, rel: Related) -> dict[str, Any]:
    """The API form of a contact: snake_case fields of the data model."""
    out: dict[str, Any] = {"id": contact.id}
    for spec in FIELDS:
        if spec.type == "ref":
            continue
        out[spec.name] = jsonable(getattr(contact, spec.db_column))
    company = rel.companies.get(contact.company_id) if contact.company_id else None
    out["company"] = company.name if company else None
    out["company_id"] = contact.company_id
    owner = rel.owners.get(contact.owner_id) if contact.owner_id else None
    out["owner"] = owner.email if owner else None
    out["owner_id"] = contact.owner_id
    out["reports_to_id"] = contact.reports_to_id
    out["referred_by_id"] = contact.referred_by_id
    out["tags"] = rel.tags.get(contact.id, [])
    out["custom_fields"] = rel.custom.get(contact.id, {})
    out["archived"] = contact.archived_at is not None
    out["archived_at"] = jsonable(contact.archived_at)
    out["version"] = contact.version
    return out
