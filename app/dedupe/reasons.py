"""Why two contacts look alike, stored language-neutral and shown in the user's language.

A reason is a dict ``{"code": ..., **params}`` (e.g. ``{"code": "names_similar",
"percent": 92}``); pairs store a list of them. `describe` turns one into the text a
person reads ("names 92% similar"), translated when a request or app is active.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.i18n import N_, Message

MESSAGES: dict[str, str] = {
    "same_email": N_("same email"),
    "same_linkedin": N_("same LinkedIn profile"),
    "same_name": N_("same name"),
    "names_similar": N_("names %(percent)s%% similar"),
    "names_swapped": N_("first and last names swapped"),
    "nickname": N_("nickname or other spelling of the first name"),
    "same_phone": N_("same phone"),
    "same_email_local": N_("same email name at another domain"),
    "same_company": N_("same company"),
    "same_city": N_("same city"),
    "same_job_title": N_("same job title"),
}


def message(reason: Mapping[str, Any]) -> Message:
    """The reason as a Message (English as a str, translatable by its template)."""
    code = str(reason.get("code", ""))
    template = MESSAGES.get(code)
    if template is None:
        return Message(code.replace("_", " "))
    params = {k: v for k, v in reason.items() if k != "code"}
    try:
        return Message(template, **params)
    except (KeyError, TypeError, ValueError):
        return Message(code.replace("_", " "))


def describe(reason: Mapping[str, Any]) -> str:
    """The human text of one reason ("same phone", "names 92% similar"), translated."""
    msg = message(reason)
    try:
        from flask import current_app

        current_app._get_current_object()
    except RuntimeError:
        return str(msg)
    from app.templating import tr

    return tr(msg)


def describe_all(reasons: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """The human texts of a pair's reasons, in order."""
    return [describe(r) for r in reasons or ()]
