"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import format_date, format_datetime, format_timedelta, get_locale, gettext
from flask_babel import gettext as _

from app.contacts.fields import BY_NAME, GROUPS, country_name


def url_with(**changes: Any) -> str:
    """The current URL with some arguments replaced (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    query = urlencode(args, doseq=True)
    return request.path + ("?" + query if query else "")


def query_url(path: str, args: dict[str, Any]) -> str:
    query = urlencode({k: v for k, v in args.items() if v not in (None, "", [])}, doseq=True)
    return path + ("?" + query if query else "")


def display(value: Any, field: str | None = None) -> str:
    """A field value as people read it: labels for choices, localised dates."""
    if value is None or value == "" or value == []:
        return ""
    spec = BY_NAME.get(field) if field else None
    if spec is not None and spec.choices:
        return _(spec.choices.get(value, value))
    if spec is not None and spec.type == "country":
        return country_name(value, str(get_locale() or "en"))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value, "medium")
    if isinstance(value, (list, tuple)):
        return ", ".join(display(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tr(message: Any) -> str:
    """Translate a message that may carry data (a Message, a label, a notice).

    Unlike `_()` in a template, the result is a plain string, so Jinja escapes it:
    use `{{ value|tr }}` for anything that is not a literal.
    """
    if message is None:
        return ""
    template = getattr(message, "template", None)
    if template is not None:
        return str(gettext(template, **message.params))
    return str(gettext(str(message)))


def duration(seconds: int | float | None) -> str:
    """A number of seconds as people say it ("3 minutes"), in the user's language."""
    if seconds is None:
        return ""
    return format_timedelta(timedelta(seconds=int(seconds)), threshold=1.1)


def register(app: Flask) -> None:
    app.jinja_env.filters["display"] = display
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["tr"] = tr
    app.jinja_env.globals.update(
        url_with=url_with,
        query_url=query_url,
        FIELD_GROUPS=GROUPS,
        FIELDS=BY_NAME,
        current_locale=lambda: str(get_locale() or "en"),
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
