"""The text a contact is found by: names, emails and company, folded for matching.

Both databases index the same folded text (SQLite FTS5, PostgreSQL tsvector), so
a search behaves the same on either: accents and case are ignored, and every
word of the query must be the start of a word of the contact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case `text` and strip accents ("Zoë Ørsted" -> "zoe orsted")."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    return out.replace("ø", "o").replace("ł", "l").replace("đ", "d").replace("æ", "ae")


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def words(text: str) -> list[str]:
    """The folded words of `text`; punctuation (@ . - +) separates words."""
    return list(_words(text))


def search_text(*parts: str | None, extra: Iterable[str | None] = ()) -> str:
    """The indexed text of a contact from its names, emails and company name."""
    out: list[str] = []
    for part in (*parts, *extra):
        if part:
            out.extend(_words(part))
    return " ".join(out)


def contact_search_text(contact, company_name: str | None = None) -> str:
    """search_text for a Contact row (or anything with the same attributes)."""
    return search_text(
        contact.first_name,
        contact.middle_name,
        contact.last_name,
        contact.email,
        company_name,
        extra=contact.secondary_emails or (),
    )


def query_terms(q: str, limit: int = 8) -> list[str]:
    """The words of a user's query, each to be matched as a prefix."""
    return words(q)[:limit]
