"""Hunter.io: verify contacts' emails (Email Verifier) and fill in job titles, companies
and LinkedIn profiles (Domain Search, Email Finder). An API-key account; nothing to pull
on a schedule, work happens per contact when asked (or when new contacts arrive, if the
account's settings say so).

The key is sent only in Hunter's ``X-API-KEY`` header, never in a URL (see :mod:`.client`),
never returned, and masked in error messages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.integrations.hookspecs import hookimpl
from app.integrations.http import ProviderError, ProviderHTTP

from . import client
from .webmail import is_webmail

NAME = "hunter"

# Hunter's verification status -> Kontor's verdict.
STATUS = {
    "valid": "deliverable",
    "invalid": "undeliverable",
    "accept_all": "risky",
    "disposable": "risky",
    "unknown": "unknown",
}
# The deprecated ``result`` field, still sent: already in Kontor's words.
RESULTS = frozenset({"deliverable", "undeliverable", "risky"})
VERIFICATION_FAILED = 222  # the remote mail server misbehaved: Hunter says retry later
NOT_PROCESSED = frozenset({400, 404, 451})  # bad address, nothing found, opted out

PAGE = 10  # Domain Search page size (the free plan's maximum); one search per page
MAX_PAGES = 3
DEPARTMENTS = {"it": "IT", "hr": "HR"}


@hookimpl
def describe_provider() -> dict[str, Any]:
    """Hunter: an API key, a verifier and two enrichment lookups; no scheduled sync."""
    return {
        "name": NAME,
        "label": "Hunter",
        "auth": "api_key",
        "base_url": "https://api.hunter.io/v2/",
        "api_key_fields": [{"name": client.KEY, "label": "API key"}],
        "settings": [
            {
                "name": "verify_new",
                "label": "Verify the email of new contacts (on create and import)",
                "type": "bool",
                "default": False,
                "help": "Uses one Hunter verification per new contact.",
            },
            {
                "name": "enrich_new",
                "label": "Fill in job title, company and LinkedIn of new contacts",
                "type": "bool",
                "default": False,
                "help": "Uses Hunter searches (Domain Search or Email Finder) per new contact.",
            },
        ],
        "sync_minutes": 0,
    }


@hookimpl
def identify_account(http: ProviderHTTP) -> dict[str, Any]:
    """The account's email as its label; plan and credits left as details."""
    data = client.data_of(client.get(http, "account")) or {}
    requests_ = data.get("requests") if isinstance(data.get("requests"), dict) else {}
    details: dict[str, str] = {}
    if data.get("plan_name"):
        details["Plan"] = str(data["plan_name"])
    for key, label in (
        ("verifications", "Verifications left"),
        ("searches", "Searches left"),
        ("credits", "Credits left"),
    ):
        left = _left(requests_.get(key))
        if left is not None:
            details[label] = str(left)
    if data.get("reset_date"):
        details["Renews on"] = str(data["reset_date"])
    name = " ".join(str(data[k]) for k in ("first_name", "last_name") if data.get(k))
    return {"label": str(data.get("email") or name or "Hunter"), "details": details}


def _left(meter: Any) -> int | None:
    """`available - used` of one of Hunter's usage meters, or None."""
    if not isinstance(meter, dict):
        return None
    available, used = meter.get("available"), meter.get("used")
    if not isinstance(available, int) or not isinstance(used, int):
        return None
    return max(0, available - used)


@hookimpl
def verify_email(http: ProviderHTTP, email: str) -> dict[str, Any] | None:
    """Hunter's verdict on `email`: deliverable, undeliverable, risky (accept-all servers,
    disposable addresses) or unknown, with Hunter's 0-100 score. A verification still
    running (202) is asked again a few times, then answered unknown; None when Hunter
    will not process the address (451: the person opted out; 400: not an address)."""
    email = (email or "").strip()
    if "@" not in email:
        return None
    for poll in range(client.POLLS + 1):
        try:
            body = client.get(http, "email-verifier", {"email": email})
        except ProviderError as exc:
            if exc.status in NOT_PROCESSED:
                return None
            raise
        answer = _verdict(client.data_of(body))
        if answer is not None:
            return answer
        if any(e.get("code") == VERIFICATION_FAILED for e in client.errors_of(body)):
            return {"status": "unknown"}
        if poll < client.POLLS:
            http.sleep(client.POLL_WAIT)
    return {"status": "unknown"}


def _verdict(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Kontor's answer from Hunter's verification data; None while it has no verdict."""
    if not data:
        return None
    status, result = data.get("status"), data.get("result")
    if status in STATUS:
        verdict = STATUS[status]
    elif status == "webmail":
        verdict = result if result in RESULTS else "unknown"
    elif result in RESULTS:
        verdict = result
    else:
        return None
    answer: dict[str, Any] = {"status": verdict}
    score = data.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 100:
        answer["score"] = int(score)
    return answer


@hookimpl
def enrich_contact(http: ProviderHTTP, contact: dict[str, Any]) -> dict[str, Any]:
    """What Hunter knows about the contact: with a company email, the matching person of
    a Domain Search on its domain (job title, department, LinkedIn, names) and the
    domain's organization; otherwise, from first and last name and a company domain (or
    name), the Email Finder's email, job title and LinkedIn. Only fields found."""
    email = str(contact.get("email") or "").strip().lower()
    domain = email.rpartition("@")[2] if "@" in email else ""
    if domain and not is_webmail(domain):
        return _from_domain_search(http, email, domain)
    first = str(contact.get("first_name") or "").strip()
    last = str(contact.get("last_name") or "").strip()
    if not (first and last):
        return {}
    company_domain = _company_domain(contact)
    company = str(contact.get("company") or "").strip()
    if company_domain and not is_webmail(company_domain):
        where = {"domain": company_domain}
    elif company:
        where = {"company": company}
    else:
        return {}
    return _from_email_finder(http, {**where, "first_name": first, "last_name": last})


def _from_domain_search(http: ProviderHTTP, email: str, domain: str) -> dict[str, Any]:
    """Page through the domain's people (a few pages at most) for the one using `email`."""
    found: dict[str, Any] = {}
    offset = 0
    for _ in range(MAX_PAGES):
        try:
            body = client.get(
                http, "domain-search", {"domain": domain, "limit": PAGE, "offset": offset}
            )
        except ProviderError as exc:
            if exc.status in NOT_PROCESSED:
                return found
            raise
        data = client.data_of(body) or {}
        if data.get("organization") and "company" not in found:
            found["company"] = str(data["organization"])
        emails = [e for e in data.get("emails") or [] if isinstance(e, dict)]
        for entry in emails:
            if str(entry.get("value") or "").strip().lower() == email:
                found.update(_person(entry, linkedin_key="linkedin"))
                return found
        offset += PAGE
        total = (body.get("meta") or {}).get("results") if isinstance(body, dict) else None
        if len(emails) < PAGE or (isinstance(total, int) and offset >= total):
            break
    return found


def _from_email_finder(http: ProviderHTTP, params: dict[str, str]) -> dict[str, Any]:
    """The Email Finder's best guess for a person at a company."""
    data = None
    for poll in range(client.POLLS + 1):
        try:
            body = client.get(http, "email-finder", params)
        except ProviderError as exc:
            if exc.status in NOT_PROCESSED:
                return {}
            raise
        data = client.data_of(body)
        if data is not None:
            break
        if poll < client.POLLS:  # 202: still searching
            http.sleep(client.POLL_WAIT)
    if not data or not data.get("email"):
        return {}
    found = _person(data, linkedin_key="linkedin_url")
    status = (data.get("verification") or {}).get("status")
    if status != "invalid":
        found["email"] = str(data["email"]).strip().lower()
    if data.get("company"):
        found["company"] = str(data["company"])
    return found


def _person(entry: dict[str, Any], *, linkedin_key: str) -> dict[str, Any]:
    """Kontor's contact fields from one of Hunter's people."""
    found: dict[str, Any] = {}
    for source, target in (
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("position", "job_title"),
    ):
        value = str(entry.get(source) or "").strip()
        if value:
            found[target] = value
    department = str(entry.get("department") or "").strip()
    if department:
        found["department"] = DEPARTMENTS.get(department.lower(), department.capitalize())
    linkedin = _linkedin(entry.get(linkedin_key))
    if linkedin:
        found["linkedin_url"] = linkedin
    twitter = str(entry.get("twitter") or "").strip()
    if twitter:
        found["twitter"] = twitter
    return found


def _linkedin(value: Any) -> str | None:
    """A LinkedIn profile URL from Hunter's URL or handle."""
    value = str(value or "").strip()
    if not value or any(c.isspace() for c in value):
        return None
    if value.lower().startswith(("http://", "https://")):
        return value
    if "linkedin.com/" in value.lower():
        return "https://" + value.lstrip("/")
    return "https://www.linkedin.com/in/" + value.strip("/")


def _company_domain(contact: dict[str, Any]) -> str:
    """The contact's company domain, from ``company_domain`` or a website URL."""
    for key in ("company_domain", "website", "company_website"):
        raw = str(contact.get(key) or "").strip().lower()
        if not raw:
            continue
        host = urlsplit(raw if "//" in raw else "//" + raw).hostname or ""
        host = host.removeprefix("www.")
        if "." in host:
            return host
    return ""


@hookimpl
def contact_event(event: dict[str, Any], settings: dict[str, Any]) -> list[str] | None:
    """For new contacts (created anywhere but by Hunter itself), ask for a verification
    and/or an enrichment, as the account's settings say."""
    if event.get("kind") != "created" or event.get("via") == f"sync:{NAME}":
        return None
    wanted = []
    if settings.get("verify_new"):
        wanted.append("verify_email")
    if settings.get("enrich_new"):
        wanted.append("enrich_contact")
    return wanted or None
