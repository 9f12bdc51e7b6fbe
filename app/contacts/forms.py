"""The contact page's field groups and their HTML forms: what each group holds,
the text its inputs start with, and the submitted form turned back into the data
the contact service takes (pure: no Flask, no database)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.contacts.fields import BY_NAME, GROUPS, FieldSpec, fields_in_group
from app.contacts.query import CustomFieldInfo
from app.i18n import N_

EDIT_GROUPS = ("basic", "company", "addresses", "social", "consent", "preferences", "custom")
ALL_GROUPS = (*EDIT_GROUPS, "system")
NEW_FORM_FIELDS = (
    "email", "first_name", "middle_name", "last_name", "phone", "mobile_phone", "company",
    "job_title", "status", "lifecycle", "lead_score", "source", "owner",
)  # fmt: skip
LIST_TYPES = ("emails", "phones", "topics")


@dataclass(frozen=True)
class Input:
    """One input of a group form: a standard field, the tags, or a custom field."""

    name: str  # form name: a field name, "tags" or "custom.<name>"
    label: str
    widget: str  # text email tel url number date datetime select checkboxes textarea
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for selects and checkboxes
    blank: bool = True  # a select offers an empty choice
    spec: FieldSpec | None = None
    custom: CustomFieldInfo | None = None
    hint: str = ""


def group_label(group: str) -> str:
    return N_("Custom fields") if group == "custom" else GROUPS[group]


def _widget(spec: FieldSpec) -> tuple[str, str]:
    t = spec.type
    if t == "email":
        return "email", ""
    if t == "phone":
        return "tel", ""
    if t == "url":
        return "url", ""
    if t == "int":
        return "number", ""
    if t in ("date", "datetime"):
        return t, ""
    if t == "choice":
        return "select", ""
    if t == "country":
        return "text", N_("Two-letter code, such as FR")
    if t in LIST_TYPES:
        return "text", N_("Separate several with commas")
    if t == "ref" and spec.extra.get("ref") == "contact":
        return "email", N_("Email of a contact")
    if t == "ref" and spec.extra.get("ref") == "company":
        return "text", N_("Created when it does not exist yet")
    return "text", ""


def field_input(spec: FieldSpec, owners: Sequence[tuple[int, str]] = ()) -> Input:
    """The input for a standard field (the owner select needs the users)."""
    if spec.name == "owner":
        options = tuple((str(uid), name) for uid, name in owners)
        return Input(spec.name, spec.label, "select", options, True, spec)
    widget, hint = _widget(spec)
    options: tuple[tuple[str, str], ...] = ()
    blank = True
    if spec.choices:
        options = tuple(spec.choices.items())
        blank = spec.name not in ("status", "consent_status")
    return Input(spec.name, spec.label, widget, options, blank, spec, hint=hint)


def custom_input(info: CustomFieldInfo) -> Input:
    name = f"custom.{info.name}"
    label = info.label or info.name
    options = tuple((o, o) for o in info.options)
    if info.type == "number":
        return Input(name, label, "number", custom=info)
    if info.type == "date":
        return Input(name, label, "date", custom=info)
    if info.type == "boolean":
        return Input(name, label, "select", (("yes", N_("Yes")), ("no", N_("No"))), custom=info)
    if info.type == "select":
        return Input(name, label, "select", options, custom=info)
    if info.type == "multiselect":
        return Input(name, label, "checkboxes", options, custom=info)
    if info.type == "json":
        return Input(name, label, "textarea", custom=info, hint=N_("JSON"))
    return Input(name, label, "text", custom=info)


def group_inputs(
    group: str,
    custom_fields: Sequence[CustomFieldInfo] = (),
    owners: Sequence[tuple[int, str]] = (),
) -> list[Input]:
    """The inputs of an editable group, in display order."""
    if group == "custom":
        return [custom_input(info) for info in custom_fields]
    inputs = [field_input(spec, owners) for spec in fields_in_group(group) if spec.editable]
    if group == "basic":
        inputs.append(Input("tags", N_("Tags"), "text", hint=N_("Separate several with commas")))
    return inputs


def new_form_inputs(owners: Sequence[tuple[int, str]] = ()) -> list[Input]:
    """The inputs of the create form: the basic fields, the company and tags."""
    inputs = [field_input(BY_NAME[name], owners) for name in NEW_FORM_FIELDS]
    inputs.append(Input("tags", N_("Tags"), "text", hint=N_("Separate several with commas")))
    return inputs


def _text(value: Any, type_: str = "text") -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if type_ == "json":
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def input_values(
    contact: Any,
    *,
    company_name: str | None,
    ref_emails: Mapping[str, str | None],
    tags: Sequence[str],
    custom: Mapping[str, Any],
    custom_fields: Sequence[CustomFieldInfo] = (),
) -> dict[str, Any]:
    """What each input of every group starts with: text, or a list for checkboxes."""
    out: dict[str, Any] = {}
    for spec in BY_NAME.values():
        if spec.name == "company":
            out[spec.name] = company_name or ""
        elif spec.name == "owner":
            out[spec.name] = str(contact.owner_id) if contact.owner_id else ""
        elif spec.type == "ref":
            out[spec.name] = ref_emails.get(spec.name) or ""
        else:
            out[spec.name] = _text(getattr(contact, spec.db_column))
    out["tags"] = ", ".join(tags)
    for info in custom_fields:
        value = custom.get(info.name)
        if info.type == "multiselect":
            out[f"custom.{info.name}"] = list(value or [])
        else:
            out[f"custom.{info.name}"] = _text(value, info.type)
    return out


def form_data(inputs: Sequence[Input], form: Any) -> dict[str, Any]:
    """The service's data from a submitted form (a werkzeug MultiDict or a dict of
    lists): every input of the form is given, so an emptied one is cleared."""

    def getlist(name: str) -> list[str]:
        if hasattr(form, "getlist"):
            return form.getlist(name)
        value = form.get(name)
        return value if isinstance(value, list) else ([] if value is None else [value])

    data: dict[str, Any] = {}
    for inp in inputs:
        values = getlist(inp.name)
        if not values:
            continue
        if inp.widget == "checkboxes":
            data[inp.name] = [v for v in values if v.strip()]
        else:
            data[inp.name] = values[-1]
    return data


def submitted_values(inputs: Sequence[Input], form: Any) -> dict[str, Any]:
    """The values a person typed, to show them again with the errors."""
    data = form_data(inputs, form)
    return {k: (v if isinstance(v, list) else str(v)) for k, v in data.items()}


def differing(
    inputs: Sequence[Input], theirs: Mapping[str, Any], yours: Mapping[str, Any]
) -> list[str]:
    """Names of the inputs whose saved value differs from the submitted one."""

    def norm(value: Any) -> Any:
        if isinstance(value, list):
            return sorted(str(v).strip().casefold() for v in value if str(v).strip())
        return " ".join(str(value or "").split()).casefold()

    return [
        inp.name
        for inp in inputs
        if inp.name in yours and norm(theirs.get(inp.name)) != norm(yours.get(inp.name))
    ]


def custom_display(info: CustomFieldInfo, values: Any) -> Any:
    """A custom value as people read it (lists joined by the template)."""
    if values is None:
        return None
    if info.type == "json":
        return json.dumps(values, ensure_ascii=False)
    return values
