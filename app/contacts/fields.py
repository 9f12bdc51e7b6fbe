"""The contact's standard fields: one registry that drives forms, the API,
filters, sorting and validation (pure: no Flask, no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import phonenumbers
from babel import Locale
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from app.i18n import N_, Message

STATUSES = {
    "active": N_("Active"),
    "inactive": N_("Inactive"),
    "unsubscribed": N_("Unsubscribed"),
    "bounced": N_("Bounced"),
    "replied": N_("Replied"),
    "blocked": N_("Blocked"),
}
ROLES = {
    "decision_maker": N_("Decision Maker"),
    "influencer": N_("Influencer"),
    "champion": N_("Champion"),
    "blocker": N_("Blocker"),
    "end_user": N_("End User"),
    "other": N_("Other"),
}
LIFECYCLES = {
    "cold_lead": N_("Cold lead"),
    "warm_lead": N_("Warm lead"),
    "hot_lead": N_("Hot lead"),
    "qualified_lead": N_("Qualified lead"),
    "customer": N_("Customer"),
    "partner": N_("Partner"),
    "vendor": N_("Vendor"),
    "other": N_("Other"),
}
CONSENT_STATUSES = {
    "opted_in": N_("Opted In"),
    "opted_out": N_("Opted Out"),
    "pending": N_("Pending"),
    "unknown": N_("Unknown"),
}
CONSENT_TYPES = {"explicit": N_("Explicit"), "implied": N_("Implied"), "imported": N_("Imported")}
GDPR_BASES = {
    "consent": N_("Consent"),
    "legitimate_interest": N_("Legitimate Interest"),
    "contract": N_("Contract"),
}
CHANNELS = {"email": N_("Email"), "phone": N_("Phone"), "sms": N_("SMS"), "mail": N_("Mail")}
FREQUENCIES = {
    "daily": N_("Daily"),
    "weekly": N_("Weekly"),
    "monthly": N_("Monthly"),
    "quarterly": N_("Quarterly"),
    "never": N_("Never"),
}
VERIFICATIONS = {
    "valid": N_("Valid"),
    "risky": N_("Risky"),
    "invalid": N_("Invalid"),
    "unknown": N_("Unknown"),
}

GROUPS = {
    "basic": N_("Basic"),
    "company": N_("Company"),
    "addresses": N_("Addresses"),
    "social": N_("Social"),
    "consent": N_("Consent"),
    "preferences": N_("Preferences"),
    "system": N_("System"),
}


@dataclass(frozen=True)
class FieldSpec:
    """A standard contact field: its type decides validation, filters and inputs."""

    name: str
    label: str
    type: str  # text email phone country choice date datetime int url emails phones topics ref
    group: str
    choices: dict[str, str] | None = None
    max_length: int | None = None
    editable: bool = True
    sortable: bool = False
    column: str | None = None  # database column when it differs from name
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db_column(self) -> str:
        return self.column or self.name


def _f(name, label, type_="text", group="basic", **kw) -> FieldSpec:
    if type_ == "text" and "max_length" not in kw:
        kw["max_length"] = 200
    return FieldSpec(name, label, type_, group, **kw)


FIELDS: tuple[FieldSpec, ...] = (
    _f("email", N_("Email"), "email", sortable=True),
    _f("first_name", N_("First name"), max_length=100, sortable=True),
    _f("middle_name", N_("Middle name"), max_length=100),
    _f("last_name", N_("Last name"), max_length=100, sortable=True),
    _f("secondary_emails", N_("Other emails"), "emails"),
    _f("phone", N_("Work phone"), "phone"),
    _f("mobile_phone", N_("Mobile phone"), "phone"),
    _f("home_phone", N_("Home phone"), "phone"),
    _f("secondary_phones", N_("Other phones"), "phones"),
    _f("status", N_("Status"), "choice", choices=STATUSES, sortable=True),
    _f("lifecycle", N_("Lifecycle"), "choice", choices=LIFECYCLES),
    _f("lead_score", N_("Lead score"), "int", sortable=True, extra={"min": 0, "max": 100}),
    _f("source", N_("Source"), max_length=100),
    _f("owner", N_("Owner"), "ref", column="owner_id", extra={"ref": "user"}),
    _f("birthday", N_("Birthday"), "date"),
    _f("timezone", N_("Time zone"), max_length=64),
    _f("language", N_("Language"), max_length=16),
    _f("external_id", N_("External ID")),
    _f("email_verification", N_("Email verification"), "choice", choices=VERIFICATIONS),
    _f("company", N_("Company"), "ref", "company", column="company_id", extra={"ref": "company"}),
    _f("job_title", N_("Job title"), group="company", sortable=True),
    _f("department", N_("Department"), group="company"),
    _f("role", N_("Role"), "choice", "company", choices=ROLES),
    _f(
        "reports_to",
        N_("Reports to"),
        "ref",
        "company",
        column="reports_to_id",
        extra={"ref": "contact"},
    ),
    _f(
        "referred_by",
        N_("Referred by"),
        "ref",
        "company",
        column="referred_by_id",
        extra={"ref": "contact"},
    ),
    _f("address_line1", N_("Address"), group="addresses", max_length=300),
    _f("address_line2", N_("Address line 2"), group="addresses", max_length=300),
    _f("city", N_("City"), group="addresses", sortable=True),
    _f("state", N_("State / region"), group="addresses"),
    _f("postcode", N_("Postcode"), group="addresses", max_length=30),
    _f("country", N_("Country"), "country", "addresses", sortable=True),
    _f("mailing_line1", N_("Mailing address"), group="addresses", max_length=300),
    _f("mailing_line2", N_("Mailing address line 2"), group="addresses", max_length=300),
    _f("mailing_city", N_("Mailing city"), group="addresses"),
    _f("mailing_state", N_("Mailing state / region"), group="addresses"),
    _f("mailing_postcode", N_("Mailing postcode"), group="addresses", max_length=30),
    _f("mailing_country", N_("Mailing country"), "country", "addresses"),
    _f("linkedin_url", N_("LinkedIn"), "url", "social", max_length=500),
    _f("twitter", N_("Twitter / X"), group="social", max_length=100),
    _f("consent_status", N_("Consent"), "choice", "consent", choices=CONSENT_STATUSES),
    _f("consent_type", N_("Consent type"), "choice", "consent", choices=CONSENT_TYPES),
    _f("consent_date", N_("Consent date"), "datetime", "consent"),
    _f("consent_source", N_("Consent source"), group="consent"),
    _f("gdpr_basis", N_("GDPR basis"), "choice", "consent", choices=GDPR_BASES),
    _f("comm_channel", N_("Preferred channel"), "choice", "preferences", choices=CHANNELS),
    _f("comm_frequency", N_("Frequency"), "choice", "preferences", choices=FREQUENCIES),
    _f("comm_topics", N_("Topics"), "topics", "preferences"),
    _f("created_at", N_("Created"), "datetime", "system", editable=False, sortable=True),
    _f("updated_at", N_("Updated"), "datetime", "system", editable=False, sortable=True),
    _f(
        "last_contacted_at",
        N_("Last contacted"),
        "datetime",
        "system",
        editable=False,
        sortable=True,
    ),
    _f(
        "last_activity_at", N_("Last activity"), "datetime", "system", editable=False, sortable=True
    ),
)

BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}
EDITABLE = tuple(f for f in FIELDS if f.editable)


def fields_in_group(group: str) -> list[FieldSpec]:
    return [f for f in FIELDS if f.group == group]


class FieldError(ValueError):
    """A value refused for a field; `field` names it, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class ValidationFailed(ValueError):
    """Several field errors at once: nothing was saved."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _countries() -> tuple[set[str], dict[str, str]]:
    codes = set(phonenumbers.SUPPORTED_REGIONS) - {"001"}
    names: dict[str, str] = {}
    for loc in ("en", "fr"):
        for code, name in Locale.parse(loc).territories.items():
            if code in codes:
                names[name.casefold()] = code
    return codes, names


COUNTRY_CODES, _COUNTRY_NAMES = _countries()


def country_name(code: str | None, locale: str = "en") -> str:
    if not code:
        return ""
    return Locale.parse(locale).territories.get(code, code)


# The plain ASCII addresses almost every file holds; anything else goes to email-validator.
# A test checks that what this accepts, email-validator accepts and normalises the same way.
_PLAIN_EMAIL = re.compile(
    r"^(?=.{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(value: str) -> str | None:
    """The lower-cased address when it is a plain ASCII one that is surely valid."""
    if len(value) > 254 or not _PLAIN_EMAIL.match(value):
        return None
    domain = value.rpartition("@")[2].lower()
    if "--" in domain:  # Punycode and reserved label forms: email-validator decides
        return None
    if any(domain == s or domain.endswith("." + s) for s in _SPECIAL_USE):
        return None
    return value.lower()


def clean_email(value: str, field_name: str = "email") -> str:
    """A syntactically valid email, lower-cased (emails are unique case-insensitively)."""
    value = (value or "").strip()
    if not value:
        raise FieldError(field_name, N_("An email address is required."))
    plain = _plain_email(value)
    if plain is not None:
        return plain
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldError(
            field_name, Message(N_("Not a valid email address (%(reason)s)."), reason=str(exc))
        ) from None
    return result.normalized.lower()


def clean_phone(value: str, region: str | None, field_name: str = "phone") -> str:
    """A phone number parsed and returned in E.164 (+33612345678)."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not region and not text.startswith(("+", "00")):
        raise FieldError(
            field_name,
            N_("Start the phone number with its country code, such as +33 6 12 34 56 78."),
        )
    try:
        parsed = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        raise FieldError(field_name, N_("Not a phone number.")) from None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise FieldError(field_name, N_("Not a valid phone number for its country.")) from None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def clean_country(value: str, field_name: str = "country") -> str:
    v = value.strip()
    if v.upper() in COUNTRY_CODES:
        return v.upper()
    code = _COUNTRY_NAMES.get(v.casefold())
    if code:
        return code
    raise FieldError(field_name, N_("Use a two-letter ISO country code, such as FR or US."))


def parse_date(value: Any, field_name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(field_name, N_("Use a date such as 2024-03-31.")) from None


def parse_datetime(value: Any, field_name: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(
                field_name, N_("Use a date and time such as 2024-03-31T14:00.")
            ) from None
    if dt.tzinfo is not None:
        from datetime import UTC

        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;\n]", value) if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    raise ValueError


def clean_value(spec: FieldSpec, value: Any, *, region: str | None = None) -> Any:
    """Validate and normalise one standard field's value; None or "" clears it.

    Raises FieldError with a message for the user. Reference fields (company,
    owner, reports_to, referred_by) are returned as given: the service resolves them.
    """
    name = spec.name
    if value is None or (isinstance(value, str) and not value.strip()):
        if name == "email":
            raise FieldError(name, N_("An email address is required."))
        if name in ("status", "consent_status"):
            return "active" if name == "status" else "unknown"
        if name == "lead_score":
            return 0
        return None
    t = spec.type
    if t == "ref":
        return value
    if t in ("text", "url"):
        if not isinstance(value, (str, int, float)):
            raise FieldError(name, N_("Expected text."))
        text = str(value).strip()
        if spec.max_length and len(text) > spec.max_length:
            raise FieldError(
                name, Message(N_("Too long (at most %(n)s characters)."), n=spec.max_length)
            )
        if t == "url" and not _URL.match(text):
            if re.match(r"^[\w.-]+\.[a-z]{2,}(/\S*)?$", text, re.I):
                return "https://" + text
            raise FieldError(name, N_("Enter a web address starting with https://."))
        return text
    if t == "email":
        return clean_email(str(value), name)
    if t == "emails":
        try:
            items = _as_list(value)
        except ValueError:
            raise FieldError(name, N_("Expected a list of email addresses.")) from None
        return list(dict.fromkeys(clean_email(v, name) for v in items)) or None
    if t == "phone":
        return clean_phone(str(value), region, name)
    if t == "phones":
        try:
            items = _as_list(value)
        except ValueError:
            raise FieldError(name, N_("Expected a list of phone numbers.")) from None
        return list(dict.fromkeys(clean_phone(v, region, name) for v in items)) or None
    if t == "topics":
        try:
            items = _as_list(value)
        except ValueError:
            raise FieldError(name, N_("Expected a list of topics.")) from None
        return list(dict.fromkeys(items)) or None
    if t == "country":
        return clean_country(str(value), name)
    if t == "choice":
        key = str(value).strip()
        choices = spec.choices or {}
        if key in choices:
            return key
        by_label = {label.casefold(): k for k, label in choices.items()}
        norm = key.casefold().replace("-", " ").replace("_", " ")
        for candidate in (key.casefold(), norm):
            if candidate in by_label:
                return by_label[candidate]
            if candidate.replace(" ", "_") in choices:
                return candidate.replace(" ", "_")
        raise FieldError(
            name, Message(N_("Choose one of: %(choices)s."), choices=", ".join(choices))
        )
    if t == "int":
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None:
            raise FieldError(name, N_("Enter a whole number."))
        lo, hi = spec.extra.get("min"), spec.extra.get("max")
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise FieldError(
                name, Message(N_("Enter a number from %(lo)s to %(hi)s."), lo=lo, hi=hi)
            )
        return number
    if t == "date":
        return parse_date(value, name)
    if t == "datetime":
        return parse_datetime(value, name)
    raise FieldError(name, N_("Unsupported field."))
