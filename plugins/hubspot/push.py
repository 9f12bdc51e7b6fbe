"""Sending contacts to HubSpot through the batch create and update endpoints.

Every input carries an ``objectWriteTraceId`` (the Kontor contact id): it turns on
HubSpot's multi-status answers (207: the records that were written and an error for each
one that was not) and ties each result and error to its contact.

When HubSpot refuses a whole batch instead (400 for an invalid value, 409 when a contact
with that email address already exists), the batch is split so the one bad contact gets
the error and the others still go through. A create refused with "Contact already
exists. Existing ID: 123" links the Kontor contact to that HubSpot contact by updating
it instead: HubSpot names only the first duplicate's id, so in a batch of several the
plugin reads that contact's email address to know which input it was.
"""

from __future__ import annotations

import re
from typing import Any

from app.integrations.http import NeedsReconnect, ProviderError, ProviderHTTP

BATCH = 100
CREATE = "crm/v3/objects/contacts/batch/create"
UPDATE = "crm/v3/objects/contacts/batch/update"
CONTACT = "crm/v3/objects/contacts/{id}"
EXISTING = re.compile(r"Existing ID:\s*(\d+)")
# Kontor contact field -> HubSpot contact property (what a push may set).
PROPERTIES = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "job_title": "jobtitle",
    "company": "company",
    "phone": "phone",
    "mobile_phone": "mobilephone",
    "website": "website",
}
# Whole-batch refusals that one input can cause: split the batch to find it.
SPLIT = frozenset({400, 404, 409})

Answer = dict[str, Any]
Linked = list[tuple[dict[str, Any], str]]


def push(http: ProviderHTTP, contacts: list[dict[str, Any]]) -> list[Answer]:
    """Create the contacts without a remote id and update the others, BATCH per call;
    answer ``{"contact_id", "remote_id", "remote_updated_at"}`` or
    ``{"contact_id", "error"}`` for each contact."""
    answers: list[Answer] = []
    updates: Linked = [(c, str(c["remote_id"])) for c in contacts if c.get("remote_id")]
    creates = [c for c in contacts if not c.get("remote_id")]
    for start in range(0, len(creates), BATCH):
        linked, done = _create(http, creates[start : start + BATCH])
        answers += done
        updates += linked
    for start in range(0, len(updates), BATCH):
        answers += _update(http, updates[start : start + BATCH])
    return answers


def properties(contact: dict[str, Any], *, create: bool) -> dict[str, str]:
    """HubSpot property values for a contact's fields. An update sends an empty value
    as "" (which clears the property in HubSpot); a create leaves it out."""
    values = {}
    for field, prop in PROPERTIES.items():
        if field not in contact:
            continue
        value = contact[field]
        value = "" if value is None else str(value)
        if value or not create:
            values[prop] = value
    return values


def _trace(contact: dict[str, Any]) -> str:
    return str(contact["contact_id"])


def _create(http: ProviderHTTP, contacts: list[dict[str, Any]]) -> tuple[Linked, list[Answer]]:
    """Create one batch; answer (contacts to link to an existing HubSpot contact, answers)."""
    pending = list(contacts)
    linked: Linked = []
    while pending:
        inputs = [
            {"properties": properties(c, create=True), "objectWriteTraceId": _trace(c)}
            for c in pending
        ]
        try:
            body = http.post(CREATE, json={"inputs": inputs}) or {}
        except ProviderError as exc:
            if isinstance(exc, NeedsReconnect) or exc.status not in SPLIT:
                raise
            existing = _existing_id(exc) if exc.status == 409 else None
            owner = None
            if existing is not None:
                owner = pending[0] if len(pending) == 1 else _owner(http, existing, pending)
            if owner is not None:
                linked.append((owner, existing))
                pending = [c for c in pending if c is not owner]
                continue
            if len(pending) == 1:
                return linked, [_error(pending[0], exc.message)]
            middle = len(pending) // 2
            first_linked, first = _create(http, pending[:middle])
            rest_linked, rest = _create(http, pending[middle:])
            return linked + first_linked + rest_linked, first + rest
        answers, conflicts = _settle(body, [(c, None) for c in pending])
        return linked + conflicts, answers
    return linked, []


def _update(http: ProviderHTTP, pairs: Linked) -> list[Answer]:
    """Update one batch of (contact, HubSpot id)."""
    inputs = [
        {
            "id": remote_id,
            "properties": properties(c, create=False),
            "objectWriteTraceId": _trace(c),
        }
        for c, remote_id in pairs
    ]
    try:
        body = http.post(UPDATE, json={"inputs": inputs}) or {}
    except ProviderError as exc:
        if isinstance(exc, NeedsReconnect) or exc.status not in SPLIT:
            raise
        if len(pairs) == 1:
            return [_error(pairs[0][0], exc.message)]
        middle = len(pairs) // 2
        return _update(http, pairs[:middle]) + _update(http, pairs[middle:])
    answers, _ = _settle(body, pairs)
    return answers


def _settle(body: dict[str, Any], pairs: list[tuple[dict[str, Any], str | None]]):
    """Map a batch answer (200, 201 or 207) back to the contacts sent: answers, and for
    creates refused as duplicates, the (contact, existing id) pairs to update instead."""
    by_trace = {_trace(c): c for c, _ in pairs}
    by_remote = {remote: c for c, remote in pairs if remote}
    by_email = {str(c.get("email") or "").strip().lower(): c for c, remote in pairs if not remote}
    settled: set[str] = set()
    answers: list[Answer] = []
    linked: Linked = []
    for result in body.get("results") or []:
        contact = (
            by_trace.get(str(result.get("objectWriteTraceId")))
            or by_remote.get(str(result.get("id")))
            or by_email.get(str((result.get("properties") or {}).get("email") or "").lower())
        )
        if contact is None or _trace(contact) in settled or not result.get("id"):
            continue
        settled.add(_trace(contact))
        answers.append(
            {
                "contact_id": contact["contact_id"],
                "remote_id": str(result["id"]),
                "remote_updated_at": result.get("updatedAt"),
            }
        )
    unexplained = []
    for error in body.get("errors") or []:
        message = str(error.get("message") or error.get("category") or "refused by HubSpot")
        context = error.get("context") or {}
        targets = [by_trace.get(str(t)) for t in context.get("objectWriteTraceId") or []]
        targets += [by_remote.get(str(i)) for i in context.get("ids") or []]
        targets = [c for c in targets if c is not None and _trace(c) not in settled]
        if not targets:
            unexplained.append(message)
        existing = EXISTING.search(message) if error.get("category") == "CONFLICT" else None
        for contact in targets:
            settled.add(_trace(contact))
            if existing and by_email.get(str(contact.get("email") or "").strip().lower()):
                linked.append((contact, existing.group(1)))
            else:
                answers.append(_error(contact, message))
    for contact, _ in pairs:
        if _trace(contact) not in settled:
            answers.append(
                _error(contact, "; ".join(unexplained) or "HubSpot did not confirm this change")
            )
    return answers, linked


def _existing_id(exc: ProviderError) -> str | None:
    found = EXISTING.search(exc.message or "")
    return found.group(1) if found else None


def _owner(http: ProviderHTTP, remote_id: str, contacts: list[dict[str, Any]]):
    """The contact among `contacts` whose email address the HubSpot contact has."""
    try:
        body = http.get(CONTACT.format(id=remote_id), params={"properties": "email"}) or {}
    except NeedsReconnect:
        raise
    except ProviderError:
        return None
    email = str((body.get("properties") or {}).get("email") or "").strip().lower()
    for contact in contacts:
        if email and str(contact.get("email") or "").strip().lower() == email:
            return contact
    return None


def _error(contact: dict[str, Any], message: str) -> Answer:
    return {"contact_id": contact["contact_id"], "error": message}
