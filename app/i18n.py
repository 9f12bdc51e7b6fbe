"""Translation markers usable from pure modules (no Flask import).

`N_("text")` marks a string for extraction and returns it unchanged; the page
translates it with the `tr` filter when it renders, in the user's language.
`Message(N_("Too long (at most %(n)s characters)."), n=100)` keeps the template and
its values apart, so the template is what gets translated; as a str it is English.
"""

from __future__ import annotations

from typing import Any


def N_(text: str) -> str:
    return text


class Message(str):
    """An English message that remembers its untranslated template and values."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Message:
        obj = super().__new__(cls, template % params if params else template)
        obj.template = template
        obj.params = params
        return obj
