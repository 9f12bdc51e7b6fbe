"""Google People API ``Person`` resources as Kontor contact records (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import phonenumbers

PERSON_FIELDS = "names,emailAddresses,phoneNumbers,organizations,urls,metadata"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
# Google's phone types (PhoneNumber.type) and the Kontor field each one fills.
_PHONE_FIELD = {"mobile": "mobile_phone", "home": "home_phone"}


def _primary_first(items: Any) -> list[dict[str, Any]]:
    """The dicts of a Person field, the one Google marks primary first."""
    items = [i for i in items or [] if isinstance(i, dict)]
    return sorted(items, key=lambda i: not (i.get("metadata") or {}).get("primary"))


def google_time(value: Any) -> str | None:
    """An RFC 3339 timestamp from Google (up to nanoseconds) as ISO 8601 UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def updated_at(person: dict[str, Any]) -> str | None:
    """When Google last changed the person: the newest ``updateTime`` of its sources."""
    sources = (person.get("metadata") or {}).get("sources") or []
    times = [google_time(s.get("updateTime")) for s in sources if isinstance(s, dict)]
    times = [t for t in times if t]
    return max(times) if times else None


def _emails(person: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for item in _primary_first(person.get("emailAddresses")):
        value = str(item.get("value") or "").strip()
        if _EMAIL.match(value) and value.lower() not in (e.lower() for e in found):
            found.append(value)
    return found


def _phone(item: dict[str, Any]) -> str | None:
    """The number in E.164, or None when it cannot be read without guessing a country
    (Kontor refuses a contact with an unreadable phone, so such a number is left out)."""
    for raw in (item.get("canonicalForm"), item.get("value")):
        if not isinstance(raw, str) or not raw.strip().startswith("+"):
            continue
        try:
            number = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _phones(person: dict[str, Any]) -> dict[str, str]:
    phones: dict[str, str] = {}
    for item in _primary_first(person.get("phoneNumbers")):
        number = _phone(item)
        if number is None or number in phones.values():
            continue
        field = _PHONE_FIELD.get(str(item.get("type") or "").lower(), "phone")
        if field not in phones:
            phones[field] = number
        elif "phone" not in phones:
            phones["phone"] = number
    return phones


def _organization(person: dict[str, Any]) -> dict[str, Any]:
    orgs = _primary_first(person.get("organizations"))
    # A current organization before a past one; among those, the primary first.
    orgs.sort(key=lambda o: o.get("current") is False)
    if not orgs:
        return {}
    org = orgs[0]
    return {
        "company": org.get("name") or None,
        "job_title": org.get("title") or None,
        "department": org.get("department") or None,
    }


def _linkedin(person: dict[str, Any]) -> str | None:
    for item in _primary_first(person.get("urls")):
        value = str(item.get("value") or "").strip()
        if "linkedin.com/" in value.lower():
            return value if re.match(r"^https?://", value, re.I) else "https://" + value
    return None


def _names(person: dict[str, Any]) -> dict[str, Any]:
    names = _primary_first(person.get("names"))
    if not names:
        return {}
    name = names[0]
    first, middle, last = name.get("givenName"), name.get("middleName"), name.get("familyName")
    if not (first or last) and name.get("displayName"):
        first, _, last = str(name["displayName"]).strip().partition(" ")
    return {"first_name": first or None, "middle_name": middle or None, "last_name": last or None}


def contact_record(person: dict[str, Any]) -> dict[str, Any] | None:
    """A Kontor contact record for a Person, or None for a person without an email
    address (Kontor requires one). A person Google reports deleted answers
    ``{"remote_id", "deleted": True}`` (deleted persons carry no fields)."""
    remote_id = person.get("resourceName")
    if not remote_id:
        return None
    metadata = person.get("metadata") or {}
    if metadata.get("deleted"):
        return {"remote_id": remote_id, "deleted": True, "remote_updated_at": updated_at(person)}
    emails = _emails(person)
    if not emails:
        return None
    record: dict[str, Any] = {
        "remote_id": remote_id,
        "email": emails[0],
        "secondary_emails": emails[1:],
        **_names(person),
        **_phones(person),
        **_organization(person),
        "remote_updated_at": updated_at(person),
        "deleted": False,
    }
    linkedin = _linkedin(person)
    if linkedin:
        record["linkedin_url"] = linkedin
    return {k: v for k, v in record.items() if v is not None}
