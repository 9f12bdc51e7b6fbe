"""The create-time check: which existing contacts might a new one duplicate?

It looks up the new contact's match keys (the key index of match_keys serves each
lookup), loads the few contacts sharing one, and scores them: a handful of indexed
queries whatever the number of contacts. While a full rebuild of the keys runs, it
finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.dedupe import keys as K
from app.dedupe.index import keys_ready, phone_region
from app.dedupe.matcher import DEFAULT_THRESHOLD, Features, contact_values
from app.dedupe.matcher import score_features as _score
from app.dedupe.models import MatchKey

BLOCK_LIMIT = 200  # members read per key: a key shared by more says little


@dataclass
class Match:
    """An existing contact that looks like the new one."""

    contact_id: int
    score: int
    reasons: list[dict] = field(default_factory=list)


def candidate_ids(session, keys: Iterable[str], exclude: set[int]) -> set[int]:
    """Contacts sharing one of `keys` (at most BLOCK_LIMIT per key)."""
    out: set[int] = set()
    for key in sorted(keys):
        rows = session.scalars(
            select(MatchKey.contact_id).where(MatchKey.key == key).limit(BLOCK_LIMIT + 1)
        ).all()
        if len(rows) > BLOCK_LIMIT:
            continue
        out.update(r for r in rows if r not in exclude)
    return out


def find_similar(
    session,
    values: Mapping[str, Any],
    *,
    exclude_ids: Iterable[int] = (),
    limit: int = 5,
    threshold: int | None = None,
) -> list[Match]:
    """Existing contacts scoring at least `threshold` (default DEFAULT_THRESHOLD) against
    `values` (keys as in matcher.score_pair; phones may be typed in any format), best
    first."""
    threshold = DEFAULT_THRESHOLD if threshold is None else int(threshold)
    region = phone_region()
    keys = K.match_keys(values, region)
    if not keys or not keys_ready(session):
        return []
    exclude = {int(i) for i in exclude_ids}
    if values.get("id"):
        exclude.add(int(values["id"]))
    ids = candidate_ids(session, keys, exclude)
    if not ids:
        return []
    new = Features(values, region)
    matches = []
    for cid, other in contact_values(session, ids).items():
        score, reasons = _score(new, Features(other))
        if score >= threshold:
            matches.append(Match(cid, score, reasons))
    matches.sort(key=lambda m: (-m.score, m.contact_id))
    return matches[:limit]


def possible_duplicates(
    values: Mapping[str, Any], *, exclude_ids: Iterable[int] = (), limit: int = 3
) -> list[dict[str, Any]]:
    """find_similar for a page: [{"id", "name", "email", "score", "reasons"}] with the
    reasons as text, for values typed in a form (empty values ignored; no email and no
    name: nothing)."""
    from app.contacts.models import Contact
    from app.dedupe.reasons import describe_all
    from app.extensions import db

    values = {k: v for k, v in values.items() if v not in (None, "", [])}
    if not any(values.get(k) for k in ("email", "first_name", "last_name")):
        return []
    matches = find_similar(db.session, values, exclude_ids=exclude_ids, limit=limit)
    if not matches:
        return []
    rows = {
        c.id: c
        for c in db.session.scalars(
            select(Contact).where(Contact.id.in_([m.contact_id for m in matches]))
        )
    }
    out = []
    for m in matches:
        contact = rows.get(m.contact_id)
        if contact is None:
            continue
        out.append(
            {
                "id": m.contact_id,
                "name": contact.full_name or contact.email,
                "email": contact.email,
                "score": m.score,
                "reasons": describe_all(m.reasons),
            }
        )
    return out
