"""A small Hunter API v2 on the loopback fake, answering the shapes Hunter documents:
``{"data": ..., "meta": ...}`` on success and ``{"errors": [{"id", "code", "details"}]}``
on error, a 401 for a missing or wrong ``X-API-KEY`` header, 202 while a verification is
still running, Domain Search pages by ``limit``/``offset`` with ``meta.results``.

Stricter than Hunter on one point: a request carrying ``api_key`` in its query string (which
Hunter accepts) is refused with a 400, so a key leaking back into URLs fails the tests.

``fail_next`` queues raw answers (429 with Retry-After, 403, ...) served first.
"""

from __future__ import annotations

from typing import Any

from app.integrations.fake import Call, FakeProvider

UNAUTHORIZED = {
    "errors": [
        {
            "id": "authentication_failed",
            "code": 401,
            "details": "No user found for the API key supplied",
        }
    ]
}


KEY_IN_URL = (
    "The API key was sent in the api_key query parameter; Kontor must send it in the "
    "X-API-KEY header only"
)


def error(status: int, id_: str, details: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"id": id_, "code": status, "details": details}]}


def verification(email: str, status: str, result: str, score: int, **flags: Any) -> dict:
    """One Email Verifier ``data`` object, as Hunter documents it."""
    return {
        "status": status,
        "result": result,
        "_deprecation_notice": "Using result is deprecated, use status instead",
        "score": score,
        "email": email,
        "regexp": True,
        "gibberish": False,
        "disposable": status == "disposable",
        "webmail": status == "webmail",
        "mx_records": True,
        "smtp_server": True,
        "smtp_check": status in ("valid", "webmail"),
        "accept_all": status == "accept_all",
        "block": False,
        "sources": [
            {
                "domain": "example.org",
                "uri": "http://example.org/team",
                "extracted_on": "2024-02-01",
                "last_seen_on": "2024-05-02",
                "still_on_page": True,
            }
        ],
        **flags,
    }


def person(value: str, first: str, last: str, **fields: Any) -> dict:
    """One Domain Search ``emails`` entry."""
    return {
        "value": value,
        "type": "personal",
        "confidence": 92,
        "sources": [],
        "first_name": first,
        "last_name": last,
        "position": None,
        "seniority": None,
        "department": None,
        "linkedin": None,
        "twitter": None,
        "phone_number": None,
        "verification": {"date": "2024-05-01", "status": "valid"},
        **fields,
    }


class FakeHunter:
    """Hunter's account, email-verifier, domain-search and email-finder endpoints."""

    def __init__(self, fake: FakeProvider, key: str = "k"):
        self.fake = fake
        self.key = key
        self.queued: list[tuple] = []
        # email -> answers served in turn, the last one repeated: (status, body)
        self.verifier: dict[str, list[tuple[int, Any]]] = {}
        # domain -> {"organization": ..., "emails": [...]}
        self.domains: dict[str, dict[str, Any]] = {}
        # (domain or company, first, last) -> Email Finder data
        self.people: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.account: dict[str, Any] = {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@acme.test",
            "plan_name": "Starter",
            "plan_level": 1,
            "reset_date": "2025-07-01",
            "team_id": 4242,
            "calls": {
                "_deprecation_notice": "Sums the searches and verifications",
                "used": 0,
                "available": 0,
            },
            "requests": {
                "searches": {"used": 120, "available": 500},
                "verifications": {"used": 40, "available": 1000},
            },
        }
        for path, handler in (
            ("/v2/account", self._account),
            ("/v2/email-verifier", self._verify),
            ("/v2/domain-search", self._domain_search),
            ("/v2/email-finder", self._email_finder),
        ):
            fake.route("GET", path, self._guarded(handler))

    def fail_next(self, *answers: tuple) -> None:
        self.queued.extend(answers)

    def calls(self, endpoint: str) -> list[Call]:
        return self.fake.calls_to(f"/v2/{endpoint}")

    def _guarded(self, handler):
        def answer(call: Call):
            if any(name.lower() == "api_key" for name in call.query):
                return error(400, "wrong_params", KEY_IN_URL)
            if self.queued:
                return self.queued.pop(0)
            if call.headers.get("x-api-key") != self.key:
                return 401, UNAUTHORIZED
            return handler(call)

        return answer

    @staticmethod
    def _params(call: Call) -> dict[str, str]:
        return {k: v[0] for k, v in call.query.items()}

    def _account(self, call: Call):
        return {"data": self.account}

    def _verify(self, call: Call):
        email = call.arg("email")
        if not email:
            return error(400, "wrong_params", "You are missing the email parameter")
        answers = self.verifier.get(email.lower())
        if not answers:
            data = verification(email, "unknown", "risky", 0)
            return {"data": data, "meta": {"params": self._params(call)}}
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        return status, body

    def _domain_search(self, call: Call):
        domain = call.arg("domain")
        if not domain:
            return error(400, "wrong_params", "You are missing the domain parameter")
        limit = int(call.arg("limit", "10"))
        offset = int(call.arg("offset", "0"))
        if limit > 10:
            return error(
                400, "pagination_error", "Your plan is limited to 10 email addresses per request"
            )
        company = self.domains.get(domain, {"organization": None, "emails": []})
        emails = company["emails"]
        data = {
            "domain": domain,
            "disposable": False,
            "webmail": False,
            "accept_all": False,
            "pattern": "{first}",
            "organization": company["organization"],
            "description": None,
            "industry": None,
            "country": "FR",
            "emails": emails[offset : offset + limit],
            "linked_domains": [],
        }
        meta = {
            "results": len(emails),
            "limit": limit,
            "offset": offset,
            "params": self._params(call),
        }
        return {"data": data, "meta": meta}

    def _email_finder(self, call: Call):
        where = call.arg("domain") or call.arg("company")
        first, last = call.arg("first_name"), call.arg("last_name")
        if not where or not (first and last):
            return error(400, "wrong_params", "You are missing the domain or the name parameters")
        found = self.people.get((where, first, last))
        if found is None:
            return error(404, "email_not_found", "No email address was found for this person")
        return {"data": found, "meta": {"params": self._params(call)}}
