"""A small HubSpot CRM v3 on the loopback fake, answering the shapes HubSpot documents.

- ``GET /crm/v3/objects/contacts``: ``{"results", "paging": {"next": {"after", "link"}}}``
  ordered by id, ``archived=true`` listing the archived contacts (with ``archivedAt``).
- ``POST /crm/v3/objects/contacts/search``: ``lastmodifieddate`` filters, sorts,
  ``{"total", "results", "paging"}``; a page past 10,000 results is refused with a 400.
- ``POST .../batch/create`` and ``.../batch/update``: 201/200 ``{"status": "COMPLETE",
  "results"}``. With ``objectWriteTraceId`` on every input (and ``multi_status`` on),
  refused inputs come back as a 207 with ``errors``; otherwise one bad input fails the
  whole batch: 409 ``"Contact already exists. Existing ID: N"`` (category CONFLICT) or
  400 VALIDATION_ERROR. Results come back in reverse order: HubSpot promises none.
- ``fail_next`` queues raw answers (429 with Retry-After, ...) served first;
  ``expired`` answers every request with HubSpot's 401 EXPIRED_AUTHENTICATION body.
"""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from app.integrations.fake import Call, FakeProvider

CONTACTS = "/crm/v3/objects/contacts"
DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
SEARCH_WINDOW = 10_000


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def error(category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": category,
        **extra,
    }


RATE_LIMITED = (
    429,
    {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
        "policyName": "SECONDLY",
    },
    {"Retry-After": "3"},
)


class FakeHubSpot:
    """One HubSpot portal's contacts, served by ``fake``."""

    def __init__(self, fake: FakeProvider):
        self.fake = fake
        self.contacts: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(101)
        self.last_write = datetime(2020, 1, 1, tzinfo=UTC)
        self.fail_next: list[tuple] = []
        self.expired = False
        self.multi_status = True
        self.details = {
            "portalId": 62515,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
        self._route("GET", "/account-info/v3/details", lambda call: self.details)
        self._route("GET", CONTACTS, self.list)
        self._route("POST", CONTACTS + "/search", self.search)
        self._route("POST", CONTACTS + "/batch/create", self.batch_create)
        self._route("POST", CONTACTS + "/batch/update", self.batch_update)

    # -- the portal changing ----------------------------------------------------------
    def _stamp(self, at: datetime | None) -> datetime:
        """The time of a write: `at`, else now, strictly after the previous write."""
        if at is None:
            at = max(datetime.now(UTC), self.last_write + timedelta(milliseconds=1))
            at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        self.last_write = max(self.last_write, at)
        return at

    def add(self, email: str | None, at: datetime | None = None, **props: Any) -> str:
        """Create a contact (as if someone added it in HubSpot); answer its id."""
        when = self._stamp(at)
        contact_id = str(next(self.ids))
        properties = {"email": email, **props}
        properties.update(createdate=iso(when), lastmodifieddate=iso(when), hs_object_id=contact_id)
        self.contacts[contact_id] = {
            "id": contact_id,
            "properties": properties,
            "createdAt": iso(when),
            "updatedAt": iso(when),
            "archived": False,
        }
        self._route("GET", f"{CONTACTS}/{contact_id}", self.read)
        return contact_id

    def change(self, contact_id: str, at: datetime | None = None, **props: Any) -> None:
        when = self._stamp(at)
        contact = self.contacts[contact_id]
        contact["properties"].update(props, lastmodifieddate=iso(when))
        contact["updatedAt"] = iso(when)

    def archive(self, contact_id: str, at: datetime | None = None) -> None:
        when = self._stamp(at)
        contact = self.contacts[contact_id]
        contact.update(archived=True, archivedAt=iso(when), updatedAt=iso(when))

    def by_email(self, email: str) -> dict[str, Any] | None:
        for contact in self.contacts.values():
            found = (contact["properties"].get("email") or "").lower()
            if not contact["archived"] and found == email.lower():
                return contact
        return None

    def calls(self, path: str) -> list[Call]:
        return self.fake.calls_to(CONTACTS + path)

    # -- the API ----------------------------------------------------------------------
    def _route(self, method: str, path: str, handler) -> None:
        def guarded(call: Call):
            if self.fail_next:
                return self.fail_next.pop(0)
            if self.expired:
                return 401, error(
                    "EXPIRED_AUTHENTICATION",
                    "The OAuth token used to make this call expired 2 minute(s) ago.",
                )
            return handler(call)

        self.fake.route(method, path, guarded)

    def _public(self, contact: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        names = list(DEFAULT_PROPERTIES) + [p for p in wanted or [] if p not in DEFAULT_PROPERTIES]
        body = {
            "id": contact["id"],
            "properties": {name: contact["properties"].get(name) for name in names},
            "createdAt": contact["createdAt"],
            "updatedAt": contact["updatedAt"],
            "archived": contact["archived"],
        }
        if contact["archived"]:
            body["archivedAt"] = contact["archivedAt"]
        return body

    def read(self, call: Call):
        contact = self.contacts.get(call.path.rsplit("/", 1)[1])
        if contact is None or contact["archived"]:
            return 404, error("OBJECT_NOT_FOUND", "resource not found")
        return self._public(contact, (call.arg("properties") or "").split(","))

    def list(self, call: Call):
        limit = int(call.arg("limit", "10"))
        if limit > 100:
            return 400, error("VALIDATION_ERROR", "limit must be at most 100")
        archived = call.arg("archived", "false") == "true"
        wanted = [p for p in (call.arg("properties") or "").split(",") if p]
        after = int(base64.b64decode(call.arg("after")).decode()) if call.arg("after") else 0
        rows = sorted(
            (
                c
                for c in self.contacts.values()
                if c["archived"] == archived and int(c["id"]) > after
            ),
            key=lambda c: int(c["id"]),
        )
        page = rows[:limit]
        body: dict[str, Any] = {"results": [self._public(c, wanted) for c in page]}
        if len(rows) > limit:
            token = base64.b64encode(page[-1]["id"].encode()).decode()
            body["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
        return body

    def search(self, call: Call):
        query = call.json or {}
        limit = int(query.get("limit", 10))
        after = int(query.get("after") or 0)
        if limit > 200:
            return 400, error("VALIDATION_ERROR", "limit must be at most 200")
        if after + limit > SEARCH_WINDOW:
            return 400, error(
                "VALIDATION_ERROR",
                "There was a problem with the request. Search results are limited to 10000.",
            )
        rows = [c for c in self.contacts.values() if not c["archived"]]
        groups = query.get("filterGroups") or []
        if groups:
            tests = [[_condition(f) for f in g.get("filters") or []] for g in groups]
            rows = [c for c in rows if any(all(t(c) for t in group) for group in tests)]
        for sort in reversed(query.get("sorts") or []):
            name = sort["propertyName"]
            rows.sort(
                key=lambda c, name=name: (c["properties"].get(name) or "", int(c["id"])),
                reverse=sort.get("direction") == "DESCENDING",
            )
        page = rows[after : after + limit]
        body: dict[str, Any] = {
            "total": len(rows),
            "results": [self._public(c, query.get("properties")) for c in page],
        }
        if after + limit < len(rows):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return body

    def _too_many(self, inputs: list[Any]):
        if len(inputs) > 100:
            return 400, error("VALIDATION_ERROR", "At most 100 inputs are accepted per batch.")
        return None

    def _multi(self, inputs: list[dict[str, Any]]) -> bool:
        return self.multi_status and all(i.get("objectWriteTraceId") for i in inputs)

    def batch_create(self, call: Call):
        inputs = (call.json or {}).get("inputs") or []
        refused = self._too_many(inputs)
        if refused:
            return refused
        errors, good = [], []
        seen: set[str] = set()
        for item in inputs:
            email = (item.get("properties") or {}).get("email") or ""
            existing = self.by_email(email) if email else None
            if email and "@" not in email:
                errors.append((400, item, _invalid_email(email)))
            elif existing is not None:
                message = f"Contact already exists. Existing ID: {existing['id']}"
                errors.append((409, item, error("CONFLICT", message)))
            elif email in seen:
                errors.append((409, item, error("CONFLICT", "Contact already exists.")))
            else:
                good.append(item)
                seen.add(email)
        if errors and not self._multi(inputs):
            status, _, body = errors[0]
            return status, body
        results = []
        for item in good:
            contact_id = self.add(**{"email": None, **item.get("properties")})
            result = self._public(self.contacts[contact_id], list(item["properties"]))
            if item.get("objectWriteTraceId"):
                result["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(results, errors, 201)

    def batch_update(self, call: Call):
        inputs = (call.json or {}).get("inputs") or []
        refused = self._too_many(inputs)
        if refused:
            return refused
        for item in inputs:
            email = (item.get("properties") or {}).get("email")
            if email and "@" not in email:  # HubSpot refuses the whole batch for this
                return 400, _invalid_email(email)
        missing = [
            i["id"]
            for i in inputs
            if i.get("id") not in self.contacts or self.contacts[i["id"]]["archived"]
        ]
        results = []
        for item in inputs:
            if item.get("id") in missing:
                continue
            self.change(item["id"], **(item.get("properties") or {}))
            result = self._public(self.contacts[item["id"]], list(item.get("properties") or {}))
            if item.get("objectWriteTraceId"):
                result["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(result)
        errors = []
        if missing:
            message = (
                "Could not get some CONTACT objects, they may be deleted or not exist. "
                "Check that ids are valid."
            )
            errors.append((404, None, error("OBJECT_NOT_FOUND", message, context={"ids": missing})))
        return self._batch_answer(results, errors, 200)

    def _batch_answer(self, results, errors, status):
        now = iso(datetime.now(UTC))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": list(reversed(results)),
            "startedAt": now,
            "completedAt": now,
        }
        if not errors:
            return status, body
        body["numErrors"] = len(errors)
        body["errors"] = []
        for _, item, err in errors:
            err = {k: v for k, v in err.items() if k != "correlationId"}
            if item is not None and item.get("objectWriteTraceId"):
                err["context"] = {"objectWriteTraceId": [item["objectWriteTraceId"]]}
            body["errors"].append(err)
        return 207, body


def _condition(f: dict[str, Any]):
    """A predicate over a stored contact for one search filter."""
    name, op, wanted = f["propertyName"], f["operator"], f.get("value")
    if name in ("lastmodifieddate", "createdate"):
        # Filters take epoch milliseconds; the stored ISO strings sort like the times.
        wanted = iso(datetime.fromtimestamp(int(wanted) / 1000, UTC))
    compare = {
        "GTE": lambda v: v >= wanted,
        "GT": lambda v: v > wanted,
        "LTE": lambda v: v <= wanted,
        "EQ": lambda v: v == wanted,
    }[op]

    def test(contact: dict[str, Any]) -> bool:
        value = contact["properties"].get(name)
        return value is not None and compare(value)

    return test


def _invalid_email(email: str) -> dict[str, Any]:
    detail = [
        {
            "isValid": False,
            "message": f"Email address {email} is invalid",
            "error": "INVALID_EMAIL",
            "name": "email",
        }
    ]
    return error("VALIDATION_ERROR", f"Property values were not valid: {json.dumps(detail)}")
