"""Create, update and upsert contacts: the one code path behind pages, API, CLI and jobs.

Every change is validated whole before anything is written, bumps the contact's
version (optimistic locking), leaves an audit entry and a field-change activity.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import bindparam, delete, func, select, update

from app import audit
from app.auth.models import User
from app.companies.models import Company
from app.contacts import events
from app.contacts.custom import clean_custom, value_column
from app.contacts.fields import (
    BY_NAME,
    FieldError,
    ValidationFailed,
    clean_email,
    clean_value,
)
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.search import contact_search_text
from app.extensions import db
from app.i18n import N_, Message
from app.timeline.models import Activity
from app.timeutil import utcnow

ALIASES = {
    "company_id": "company",
    "owner_id": "owner",
    "reports_to_id": "reports_to",
    "referred_by_id": "referred_by",
    "company_name": "company",
}
SEARCH_FIELDS = {"first_name", "middle_name", "last_name", "email", "secondary_emails", "company"}


class DuplicateEmail(Exception):
    """The email belongs to another contact already."""

    def __init__(self, email: str, existing_id: int):
        super().__init__(f"{email} already exists")
        self.email = email
        self.existing_id = existing_id


class ContactLimitReached(Exception):
    """Creating would exceed KONTOR_CONTACT_LIMIT."""

    def __init__(self, limit: int, remaining: int):
        super().__init__(f"contact limit {limit} reached; {remaining} more fit")
        self.limit = limit
        self.remaining = remaining


class VersionConflict(Exception):
    """Someone else saved the contact since the form was loaded."""

    def __init__(self, contact: Contact, current: dict[str, Any]):
        super().__init__("the contact was changed by someone else")
        self.contact = contact
        self.current = current


def normalise_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Map aliases (company_id, owner_id, custom.x) onto the canonical keys."""
    out: dict[str, Any] = {}
    custom: dict[str, Any] = dict(data.get("custom_fields") or {})
    for key, value in data.items():
        if key == "custom_fields":
            continue
        if key.startswith("custom."):
            custom[key[7:]] = value
            continue
        out[ALIASES.get(key, key)] = value
    if custom or "custom_fields" in data:
        out["custom_fields"] = custom
    return out


def check_room(n_new: int) -> None:
    """Refuse when creating n_new contacts would exceed the configured cap."""
    limit = current_app.config.get("CONTACT_LIMIT")
    if limit is None:
        return
    count = db.session.scalar(select(func.count()).select_from(Contact))
    if count + n_new > limit:
        raise ContactLimitReached(limit, max(0, limit - count))


MAX_ID = 2**63 - 1


def _resolve_ref(
    name: str, value: Any, errors: dict[str, str], contact: Contact | None, actor, via
):
    """Turn a reference value (id, email, name, {"id"/"name"}) into a row id."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("id") or value.get("name") or value.get("email")
    ref = BY_NAME[name].extra["ref"]
    if ref == "company":
        if isinstance(value, int):
            company = db.session.get(Company, value) if 0 < value <= MAX_ID else None
            if company is None:
                errors[name] = N_("No such company.")
                return None
            return company.id
        name_text = str(value).strip()
        if len(name_text) > 300:
            errors[name] = Message(N_("Too long (at most %(n)s characters)."), n=300)
            return None
        company = db.session.scalar(
            select(Company).where(func.lower(Company.name) == name_text.lower()).limit(1)
        )
        if company is None:
            company = Company(name=name_text)
            db.session.add(company)
            db.session.flush()
            audit.record("create", "company", company.id, {"name": name_text}, actor=actor, via=via)
        return company.id
    model = User if ref == "user" else Contact
    row = None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        row = db.session.get(model, int(value)) if 0 < int(value) <= MAX_ID else None
    elif isinstance(value, str):
        row = db.session.scalar(select(model).where(model.email == value.strip().lower()))
    if row is None:
        errors[name] = N_("No such user.") if ref == "user" else N_("No such contact.")
        return None
    if contact is not None and model is Contact and row.id == contact.id:
        errors[name] = N_("A contact cannot refer to itself.")
        return None
    return row.id


def validate(
    data: dict[str, Any], contact: Contact | None = None, *, actor=None, via: str | None = None
) -> tuple[dict[str, Any], list[str] | None, dict[str, list[Any]]]:
    """Check every given field; return (standard values by column, tags, custom values).

    Raises ValidationFailed naming each bad field; nothing is written except a
    company created by name (flushed, rolled back with the caller's transaction).
    """
    data = normalise_keys(data)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    region = data.get("country") or (contact.country if contact else None)
    if isinstance(region, str) and len(region.strip()) != 2:
        region = None
    region = (region or current_app.config.get("PHONE_REGION") or "").upper() or None
    for key, raw in data.items():
        if key in ("tags", "custom_fields", "version"):
            continue
        spec = BY_NAME.get(key)
        if spec is None or not spec.editable:
            errors[key] = N_("Unknown field.") if spec is None else N_("This field is read-only.")
            continue
        try:
            value = clean_value(spec, raw, region=region)
        except FieldError as exc:
            errors[key] = exc.message
            continue
        if spec.type == "ref":
            value = _resolve_ref(key, value, errors, contact, actor, via)
        values[spec.db_column] = value
    tags = None
    if "tags" in data:
        raw_tags = data["tags"]
        if raw_tags is None:
            tags = []
        elif isinstance(raw_tags, str):
            tags = [t.strip() for t in raw_tags.split(",") if t.strip()]
        elif isinstance(raw_tags, list) and all(isinstance(t, str) for t in raw_tags):
            tags = [t.strip() for t in raw_tags if t.strip()]
        else:
            errors["tags"] = N_("Expected a list of tag names.")
        if tags and any(len(t) > 100 for t in tags):
            errors["tags"] = N_("A tag is at most 100 characters.")
    custom: dict[str, list[Any]] = {}
    if data.get("custom_fields"):
        if not isinstance(data["custom_fields"], dict):
            errors["custom_fields"] = N_("Expected an object of custom field values.")
        else:
            defs = {
                d.name: d
                for d in db.session.scalars(
                    select(CustomField).where(CustomField.name.in_(list(data["custom_fields"])))
                )
            }
            for name, raw in data["custom_fields"].items():
                d = defs.get(name)
                if d is None:
                    errors[f"custom.{name}"] = N_("Unknown custom field.")
                    continue
                try:
                    custom[name] = clean_custom(name, d.type, d.options, raw)
                except FieldError as exc:
                    errors[exc.field] = exc.message
    if errors:
        raise ValidationFailed(errors)
    return values, tags, custom


def tag_names(contact_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(Tag.name)
            .join(ContactTag, ContactTag.tag_id == Tag.id)
            .where(ContactTag.contact_id == contact_id)
            .order_by(Tag.name)
        )
    )


def get_or_create_tags(names: list[str]) -> list[Tag]:
    """Tags by name (case-insensitive), creating the missing ones."""
    keys = {n.casefold(): n for n in names}
    found = {t.key: t for t in db.session.scalars(select(Tag).where(Tag.key.in_(list(keys))))}
    for key, name in keys.items():
        if key not in found:
            tag = Tag(name=name, key=key)
            db.session.add(tag)
            found[key] = tag
    db.session.flush()
    return [found[k] for k in keys]


def custom_values(contact_id: int) -> dict[str, list[Any]]:
    """Stored custom values of a contact by field name."""
    out: dict[str, list[Any]] = {}
    rows = db.session.execute(
        select(CustomField, CustomFieldValue)
        .join(CustomFieldValue, CustomFieldValue.field_id == CustomField.id)
        .where(CustomFieldValue.contact_id == contact_id)
        .order_by(CustomFieldValue.id)
    )
    for field, value in rows:
        out.setdefault(field.name, []).append(getattr(value, value_column(field.type)))
    return out


def _display(contact: Contact, column: str) -> Any:
    value = getattr(contact, column)
    if column == "company_id" and value:
        company = db.session.get(Company, value)
        return company.name if company else value
    if column == "owner_id" and value:
        user = db.session.get(User, value)
        return user.email if user else value
    if column in ("reports_to_id", "referred_by_id") and value:
        other = db.session.get(Contact, value)
        return other.email if other else value
    return value


def _field_name(column: str) -> str:
    return {v.db_column: v.name for v in BY_NAME.values()}.get(column, column)


def current_values(contact: Contact, keys: list[str]) -> dict[str, Any]:
    """Displayable current values of the named fields (for a conflict message)."""
    out: dict[str, Any] = {}
    for key in keys:
        key = ALIASES.get(key, key)
        if key.startswith("custom."):
            out[key] = custom_values(contact.id).get(key[7:], [])
        elif key == "tags":
            out[key] = tag_names(contact.id)
        elif key in BY_NAME:
            out[key] = _display(contact, BY_NAME[key].db_column)
    return out


def _apply(
    contact: Contact,
    values: dict[str, Any],
    tags: list[str] | None,
    custom: dict[str, list[Any]],
    custom_given: set[str],
) -> dict[str, list[Any]]:
    """Write validated values onto the contact; return {field: [old, new]} of real changes."""
    changes: dict[str, list[Any]] = {}
    with db.session.no_autoflush:
        for column, new in values.items():
            if getattr(contact, column) != new:
                old = _display(contact, column) if contact.id else None
                setattr(contact, column, new)
                changes[_field_name(column)] = [old, _display(contact, column)]
        if contact.id is None:
            contact.search_text = _search_text(contact)
            db.session.add(contact)
            db.session.flush()
        if tags is not None:
            _apply_tags(contact, tags, changes)
        if custom_given:
            _apply_custom(contact, custom, custom_given, changes)
    return changes


def _apply_tags(contact: Contact, tags: list[str], changes: dict) -> None:
    old_tags = tag_names(contact.id)
    if sorted(t.casefold() for t in old_tags) == sorted({t.casefold() for t in tags}):
        return
    db.session.execute(delete(ContactTag).where(ContactTag.contact_id == contact.id))
    rows = get_or_create_tags(tags)
    for tag in rows:
        db.session.add(ContactTag(contact_id=contact.id, tag_id=tag.id))
    changes["tags"] = [old_tags, sorted(t.name for t in rows)]


def _apply_custom(
    contact: Contact, custom: dict[str, list[Any]], given: set[str], changes: dict
) -> None:
    defs = {
        d.name: d
        for d in db.session.scalars(select(CustomField).where(CustomField.name.in_(list(given))))
    }
    old_custom = custom_values(contact.id)
    for name in sorted(given):
        new_vals = custom.get(name, [])
        old_vals = old_custom.get(name, [])
        if old_vals == new_vals:
            continue
        d = defs[name]
        db.session.execute(
            delete(CustomFieldValue).where(
                CustomFieldValue.contact_id == contact.id, CustomFieldValue.field_id == d.id
            )
        )
        col = value_column(d.type)
        for v in new_vals:
            db.session.add(CustomFieldValue(contact_id=contact.id, field_id=d.id, **{col: v}))
        changes[f"custom.{name}"] = [old_vals or None, new_vals or None]


def _search_text(contact: Contact) -> str:
    company_name = None
    if contact.company_id:
        company_name = db.session.scalar(
            select(Company.name).where(Company.id == contact.company_id)
        )
    return contact_search_text(contact, company_name)


def _after_change(contact: Contact, changes: dict, actor, via: str, action: str) -> None:
    if action == "update":
        contact.version += 1
        contact.updated_at = utcnow()
        if SEARCH_FIELDS & set(changes):
            contact.search_text = _search_text(contact)
    db.session.flush()
    audit.record(action, "contact", contact.id, changes, actor=actor, via=via)
    events.emit(
        "created" if action == "create" else "updated", [contact.id], fields=changes, via=via
    )
    if action == "update":
        names = ", ".join(sorted(changes))
        db.session.add(
            Activity(
                contact_id=contact.id,
                user_id=getattr(actor, "id", None),
                kind="field_change",
                subject=names,
                data={"changes": audit.jsonable(changes), "via": via},
                source=via,
            )
        )


def create_contact(data: dict[str, Any], *, actor=None, via: str = "web") -> Contact:
    """Create a contact from field values. Raises ValidationFailed, DuplicateEmail,
    ContactLimitReached; the caller commits."""
    if "email" not in normalise_keys(data):
        raise ValidationFailed({"email": N_("An email address is required.")})
    values, tags, custom = validate(data, actor=actor, via=via)
    existing = db.session.scalar(select(Contact.id).where(Contact.email == values["email"]))
    if existing:
        raise DuplicateEmail(values["email"], existing)
    check_room(1)
    contact = Contact(status="active", consent_status="unknown", lead_score=0, version=1)
    if actor is not None and "owner_id" not in values:
        values["owner_id"] = actor.id
    custom_given = set(normalise_keys(data).get("custom_fields") or {})
    changes = _apply(contact, values, tags, custom, custom_given)
    _after_change(contact, changes, actor, via, "create")
    return contact


def update_contact(
    contact: Contact,
    data: dict[str, Any],
    *,
    actor=None,
    via: str = "web",
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Apply the given fields (a None value clears, a missing key is left alone).

    Raises ValidationFailed, DuplicateEmail, VersionConflict; returns the changes.
    """
    if expected_version is not None and int(expected_version) != contact.version:
        raise VersionConflict(contact, current_values(contact, list(normalise_keys(data))))
    values, tags, custom = validate(data, contact, actor=actor, via=via)
    email = values.get("email")
    if email and email != contact.email:
        other = db.session.scalar(select(Contact.id).where(Contact.email == email))
        if other:
            raise DuplicateEmail(email, other)
    custom_given = set(normalise_keys(data).get("custom_fields") or {})
    changes = _apply(contact, values, tags, custom, custom_given)
    if changes:
        _after_change(contact, changes, actor, via, "update")
    return changes


def upsert_contact(data: dict[str, Any], *, actor=None, via: str = "api") -> tuple[Contact, bool]:
    """Create the contact, or update the one with this email (case-insensitive)."""
    raw_email = normalise_keys(data).get("email")
    try:
        email = clean_email(raw_email if isinstance(raw_email, str) else "")
    except FieldError as exc:
        raise ValidationFailed({"email": exc.message}) from None
    existing = db.session.scalar(select(Contact).where(Contact.email == email))
    if existing is None:
        return create_contact(data, actor=actor, via=via), True
    update_contact(existing, data, actor=actor, via=via)
    return existing, False


def refresh_search_text_for_company(company_id: int) -> None:
    """Re-index the contacts of a company after its name changed.

    A plain UPDATE of search_text: the contacts' own fields did not change, so
    their versions (and anyone's open edit form) stay valid.
    """
    company = db.session.get(Company, company_id)
    db.session.flush()
    rows = db.session.scalars(select(Contact).where(Contact.company_id == company_id)).all()
    params = [
        {"cid": c.id, "st": contact_search_text(c, company.name if company else None)} for c in rows
    ]
    if params:
        table = Contact.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("cid")).values(search_text=bindparam("st")),
            params,
        )
        for c in rows:
            db.session.expire(c, ["search_text"])
