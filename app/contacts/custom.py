"""Typed custom field values: validate user input into the column it is stored in (pure)."""

from __future__ import annotations

import json
from typing import Any

from app.contacts.fields import FieldError, parse_date
from app.i18n import N_, Message

TRUE = {"1", "true", "yes", "y", "on", "oui", "vrai", "x"}
FALSE = {"0", "false", "no", "n", "off", "non", "faux", ""}


def value_column(type_: str) -> str:
    """The CustomFieldValue column that holds values of this field type."""
    return {
        "number": "value_number",
        "date": "value_date",
        "boolean": "value_bool",
        "json": "value_json",
    }.get(type_, "value_text")


def clean_custom(name: str, type_: str, options: list | None, value: Any) -> list[Any]:
    """The value(s) to store for one custom field; [] clears it. Raises FieldError."""
    key = f"custom.{name}"
    if value is None or (isinstance(value, str) and not value.strip()) or value == []:
        return []
    if type_ == "text":
        text = str(value).strip()
        if len(text) > 1000:
            raise FieldError(key, Message(N_("Too long (at most %(n)s characters)."), n=1000))
        return [text]
    if type_ == "number":
        if isinstance(value, bool):
            raise FieldError(key, N_("Enter a number."))
        try:
            number = float(str(value).strip().replace(",", ".").replace(" ", ""))
        except ValueError:
            raise FieldError(key, N_("Enter a number.")) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise FieldError(key, N_("Enter a number."))
        return [number]
    if type_ == "date":
        return [parse_date(value, key)]
    if type_ == "boolean":
        if isinstance(value, bool):
            return [value]
        text = str(value).strip().casefold()
        if text in TRUE:
            return [True]
        if text in FALSE:
            return [False]
        raise FieldError(key, N_("Enter yes or no."))
    if type_ in ("select", "multiselect"):
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        items = [str(i).strip() for i in items if str(i).strip()]
        if type_ == "select" and len(items) > 1:
            raise FieldError(key, N_("Choose only one option."))
        allowed = {str(o).casefold(): str(o) for o in options or []}
        out = []
        for item in items:
            if item.casefold() not in allowed:
                raise FieldError(
                    key,
                    Message(N_("Choose one of: %(choices)s."), choices=", ".join(options or [])),
                )
            out.append(allowed[item.casefold()])
        return list(dict.fromkeys(out))
    if type_ == "json":
        if isinstance(value, str):
            try:
                return [json.loads(value)]
            except ValueError:
                raise FieldError(key, N_("Enter valid JSON.")) from None
        return [value]
    raise FieldError(key, N_("Unsupported field type."))


def display_custom(type_: str, values: list[Any]) -> Any:
    """The API/JSON form of stored values: a list for multi-select, else one value."""
    if type_ == "multiselect":
        return sorted(values)
    if not values:
        return None
    v = values[0]
    if type_ == "date":
        return v.isoformat()
    if type_ == "number" and float(v).is_integer():
        return int(v)
    return v
