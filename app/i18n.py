"""Translation markers usable from pure modules (no Flask import).

`N_("text")` marks a string for extraction and returns it unchanged; the page
translates it with `_()` when it renders, in the user's language.
"""


def N_(text: str) -> str:
    return text
