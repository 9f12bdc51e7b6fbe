"""Custom field definitions: validate (pure), create, edit and delete.

A definition has a slug name (used in URLs as cf.<name> and in the API under
custom_fields), a label, a type among CUSTOM_FIELD_TYPES and, for select and
multi-select, its options. Error messages are N_ strings, or (N_ string, params)
when they name a value, so the page translates them before filling them in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import func, select

from app import audit
from app.contacts.fields import BY_NAME as STANDARD_FIELDS
from app.contacts.fields import ValidationFailed
from app.contacts.models import CUSTOM_FIELD_TYPES, CustomField, CustomFieldValue
from app.contacts.search import fold
from app.extensions import db
from app.i18n import N_

TYPE_LABELS = {
    "text": N_("Text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "boolean": N_("Yes / no"),
    "select": N_("Single select"),
    "multiselect": N_("Multi-select"),
    "json": N_("JSON"),
}
WITH_OPTIONS = ("select", "multiselect")
RESERVED = {"id", "tags", "lists", "custom_fields", "version", "company_name", "company_id"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_OPTIONS = 200


def slug(text: str) -> str:
    """A field name from a label ("Taille d'équipe" -> "taille_d_equipe")."""
    out = re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")[:64].rstrip("_")
    if out and not out[0].isalpha():
        out = ("f_" + out)[:64]
    return out


def parse_options(raw: Any) -> list[str]:
    """Options from a form's textarea (one per line) or a list; blanks dropped."""
    if raw is None:
        return []
    items = raw.splitlines() if isinstance(raw, str) else [str(v) for v in raw]
    return [" ".join(item.split()) for item in items if item.strip()]


def _check_options(options: list[str], errors: dict[str, Any]) -> None:
    if not options:
        errors["options"] = N_("A select field needs at least one option (one per line).")
        return
    if len(options) > MAX_OPTIONS:
        errors["options"] = (N_("At most %(n)s options."), {"n": MAX_OPTIONS})
        return
    seen: set[str] = set()
    for option in options:
        if len(option) > 200:
            errors["options"] = N_("An option is at most 200 characters.")
            return
        if "," in option:
            errors["options"] = (
                N_("Options cannot contain a comma: %(option)s"),
                {"option": option},
            )
            return
        if option.casefold() in seen:
            errors["options"] = (N_("The option %(option)s is listed twice."), {"option": option})
            return
        seen.add(option.casefold())


def _check_label(label: str, errors: dict[str, Any]) -> None:
    if not label:
        errors["label"] = N_("A field needs a label.")
    elif len(label) > 200:
        errors["label"] = N_("A label is at most 200 characters.")


def _position(raw: Any, errors: dict[str, Any]) -> int | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors["position"] = N_("Enter a whole number.")
        return None
    if not 0 <= value <= 100_000:
        errors["position"] = N_("Enter a number from 0 to 100000.")
        return None
    return value


def clean_definition(data: Mapping[str, Any], taken: Collection[str]) -> dict[str, Any]:
    """Validate a new definition against the names `taken` (pure); return its values.

    Raises ValidationFailed: name not a slug, taken or reserved; label missing;
    type unknown; select/multi-select without options (or with duplicates).
    """
    errors: dict[str, Any] = {}
    label = " ".join(str(data.get("label") or "").split())
    name = str(data.get("name") or "").strip() or slug(label)
    type_ = str(data.get("type") or "").strip()
    _check_label(label, errors)
    if not name:
        errors["name"] = N_("A field needs a name.")
    elif not NAME_RE.match(name):
        errors["name"] = N_(
            "Use lower-case letters, digits and underscores, starting with a letter."
        )
    elif name in taken:
        errors["name"] = N_("Another custom field has this name.")
    elif name in STANDARD_FIELDS or name in RESERVED:
        errors["name"] = N_("This name belongs to a standard contact field.")
    if type_ not in CUSTOM_FIELD_TYPES:
        errors["type"] = N_("Choose a type from the list.")
    options = parse_options(data.get("options"))
    if type_ in WITH_OPTIONS:
        _check_options(options, errors)
    else:
        options = []
    position = _position(data.get("position"), errors)
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": name,
        "label": label,
        "type": type_,
        "options": options or None,
        "position": position,
    }


def clean_changes(field_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an edit of label, options and position (pure); name and type stay."""
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    if "label" in data:
        values["label"] = " ".join(str(data.get("label") or "").split())
        _check_label(values["label"], errors)
    if "options" in data and field_type in WITH_OPTIONS:
        values["options"] = parse_options(data.get("options"))
        _check_options(values["options"], errors)
    if "position" in data:
        position = _position(data.get("position"), errors)
        if position is not None:
            values["position"] = position
    if errors:
        raise ValidationFailed(errors)
    return values


def definitions() -> list[CustomField]:
    return list(
        db.session.scalars(select(CustomField).order_by(CustomField.position, CustomField.name))
    )


def value_counts(field_id: int | None = None) -> dict[int, int]:
    """How many contacts have a value for each field (one grouped query)."""
    query = select(
        CustomFieldValue.field_id, func.count(func.distinct(CustomFieldValue.contact_id))
    ).group_by(CustomFieldValue.field_id)
    if field_id is not None:
        query = query.where(CustomFieldValue.field_id == field_id)
    return {fid: n for fid, n in db.session.execute(query)}


def create_field(data: Mapping[str, Any], *, actor=None, via: str = "web") -> CustomField:
    """Add a definition. Raises ValidationFailed; nothing is written then."""
    taken = set(db.session.scalars(select(CustomField.name)))
    values = clean_definition(data, taken)
    if values["position"] is None:
        last = db.session.scalar(select(func.max(CustomField.position)))
        values["position"] = 0 if last is None else last + 1
    field = CustomField(**values)
    db.session.add(field)
    db.session.flush()
    audit.record("create", "custom_field", field.id, values, actor=actor, via=via)
    return field


def _options_in_use(field: CustomField, removed: list[str]) -> dict[str, int]:
    if not removed:
        return {}
    rows = db.session.execute(
        select(CustomFieldValue.value_text, func.count())
        .where(CustomFieldValue.field_id == field.id, CustomFieldValue.value_text.in_(removed))
        .group_by(CustomFieldValue.value_text)
    )
    return {option: n for option, n in rows}


def update_field(
    field: CustomField, data: Mapping[str, Any], *, actor=None, via: str = "web"
) -> dict[str, list[Any]]:
    """Change a definition's label, options or position; returns {key: [old, new]}.

    An option still held by contacts cannot be removed (their value would no
    longer be a choice): ValidationFailed says which and how many.
    """
    values = clean_changes(field.type, data)
    if "options" in values:
        new = {o.casefold() for o in values["options"]}
        removed = [o for o in field.options or [] if o.casefold() not in new]
        used = _options_in_use(field, removed)
        if used:
            option, n = next(iter(used.items()))
            raise ValidationFailed(
                {
                    "options": (
                        N_("The option %(option)s is still used by %(n)s contacts."),
                        {"option": option, "n": n},
                    )
                }
            )
        renamed = {o.casefold(): o for o in values["options"]}
        for old in field.options or []:
            if old.casefold() in renamed and renamed[old.casefold()] != old:
                # Same option in another case: stored values follow the new spelling.
                db.session.execute(
                    CustomFieldValue.__table__.update()
                    .where(
                        CustomFieldValue.field_id == field.id,
                        CustomFieldValue.value_text == old,
                    )
                    .values(value_text=renamed[old.casefold()])
                )
    changes = {k: [getattr(field, k), v] for k, v in values.items() if getattr(field, k) != v}
    for key, (_old, new_value) in changes.items():
        setattr(field, key, new_value)
    if changes:
        audit.record("update", "custom_field", field.id, changes, actor=actor, via=via)
    return changes


def delete_field(field: CustomField, *, actor=None, via: str = "web") -> int:
    """Delete a definition and every contact's value for it; returns how many contacts had one."""
    holders = value_counts(field.id).get(field.id, 0)
    db.session.execute(
        CustomFieldValue.__table__.delete().where(CustomFieldValue.field_id == field.id)
    )
    audit.record(
        "delete",
        "custom_field",
        field.id,
        {"name": field.name, "label": field.label, "type": field.type, "contacts": holders},
        actor=actor,
        via=via,
    )
    db.session.delete(field)
    db.session.flush()
    return holders
