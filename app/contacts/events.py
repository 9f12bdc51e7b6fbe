"""Contact events: what other capabilities keep in step with contacts subscribe here.

Match keys (dedupe), lead scores (scoring) and plugins (integrations) derive data from
contacts. The code that changes contacts emits one event per logical change, inside its
transaction, and the listeners update what they own in the same transaction, so a
rollback undoes both. A listener never commits.

Events (``ContactEvent.kind``):
- ``created``: new contacts; ``fields`` the fields given.
- ``updated``: changed contacts; ``fields`` the changed fields (``tags``, ``lists``,
  ``custom.<name>`` included), None when unknown.
- ``activities_changed``: activities of these contacts were added, edited or deleted.
- ``merged``: ``ids`` is ``[survivor]``; ``data`` holds ``survivor`` and ``merged`` ids.
  Emitted after the merge; undoing a merge emits ``created`` for the restored contact
  and ``updated`` for the survivor.
- ``deleted``: emitted *before* the rows go, so listeners can still read them.

``ids`` is a list of contact ids, or for a bulk action over "all N matching", a SELECT
of contact ids (listeners that only care about some fields should look at ``fields``
first; heavy work on a SELECT belongs in a job).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.sql import Select

EVENT_KINDS = ("created", "updated", "activities_changed", "merged", "deleted")

Ids = Sequence[int] | Select


@dataclass(frozen=True)
class ContactEvent:
    """One logical change to some contacts (see the module docstring)."""

    kind: str
    ids: Ids
    fields: frozenset[str] | None = None
    via: str = "web"
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[ContactEvent], None]
_listeners: list[tuple[str, Listener]] = []


def listener(name: str) -> Callable[[Listener], Listener]:
    """Register ``fn(event)`` under a unique name (re-registering replaces it)."""

    def decorator(fn: Listener) -> Listener:
        _listeners[:] = [(n, f) for n, f in _listeners if n != name]
        _listeners.append((name, fn))
        return fn

    return decorator


def emit(
    kind: str,
    ids: Ids,
    *,
    fields: Sequence[str] | frozenset[str] | None = None,
    via: str = "web",
    **data: Any,
) -> None:
    """Tell every listener; nothing happens for an empty id list."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown contact event {kind!r}")
    if not isinstance(ids, Select):
        ids = [int(i) for i in ids]
        if not ids:
            return
    event = ContactEvent(kind, ids, None if fields is None else frozenset(fields), via, data)
    for _, fn in list(_listeners):
        fn(event)
