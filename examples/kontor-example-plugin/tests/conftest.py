"""The Example API, faked on 127.0.0.1 with the ``fake_provider`` fixture Kontor ships,
and an account connected to it with ``kontor_account``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

API_KEY = "ex-test-key"
OWNER = "owner@example.com"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExampleAPI:
    """What the Example API stores and answers, as its documentation describes it."""

    def __init__(self, fake) -> None:
        self.fake = fake
        self.people: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.verdicts: dict[str, str] = {}
        self.version = 0  # bumped by every change; the sync token is its value
        self.down: list[tuple[int, dict, dict]] = []  # answers to give before the real ones
        fake.route("GET", "/v1/account", self._guard(self._account))
        fake.route("GET", "/v1/contacts", self._guard(lambda c: self._list(c, self.people)))
        fake.route("GET", "/v1/messages", self._guard(lambda c: self._list(c, self.messages)))
        fake.route("GET", "/v1/verifications", self._guard(self._verify))

    def person(self, email: str, **fields: Any) -> dict[str, Any]:
        self.version += 1
        row = {"id": f"p{len(self.people) + 1}", "email": email, **fields}
        row.update(updated_at=now(), version=self.version)
        self.people.append(row)
        return row

    def change(self, row: dict[str, Any], **fields: Any) -> None:
        self.version += 1
        row.update(fields, updated_at=now(), version=self.version)

    def message(self, direction: str, other: str, subject: str, **extra: Any) -> None:
        self.version += 1
        me, them = {"email": OWNER, "name": "Owner"}, {"email": other, "name": None}
        self.messages.append(
            {
                "id": f"m{len(self.messages) + 1}",
                "direction": direction,
                "sent_at": now(),
                "subject": subject,
                "snippet": subject.lower(),
                "from": me if direction == "out" else them,
                "to": [them] if direction == "out" else [me],
                "version": self.version,
                **extra,
            }
        )

    def _guard(self, handler):
        def answer(call):
            if self.down:
                return self.down.pop(0)
            if call.headers.get("authorization") != f"Bearer {API_KEY}":
                return 401, {"error": {"code": "unauthorized", "message": "Unknown API key"}}
            return handler(call)

        return answer

    def _account(self, call):
        return {"email": OWNER, "name": "Owner", "plan": "Starter", "credits": 42}

    def _list(self, call, rows):
        since = int(call.arg("changed_since") or 0)
        start = int(call.arg("page") or 0)
        limit = int(call.arg("limit") or 100)
        changed = [r for r in rows if r["version"] > since]
        chunk = changed[start : start + limit]
        more = start + limit < len(changed)
        return {
            "data": chunk,
            "next_page": str(start + limit) if more else None,
            "sync_token": str(self.version),
        }

    def _verify(self, call):
        email = call.arg("email")
        return {"email": email, "result": self.verdicts.get(email, "unknown"), "score": 80}


@pytest.fixture
def example_api(fake_provider):
    return ExampleAPI(fake_provider)


@pytest.fixture
def account(kontor_account, fake_provider, example_api):
    """An Example CRM account, connected with an API key, talking to the fake."""
    return kontor_account("example", fake_provider.url + "/", secrets={"api_key": API_KEY})
