"""A fake MiniCRM (tests/integrations/minicrm.py is its plugin) on 127.0.0.1 that keeps
contacts and messages in memory and answers the plugin's API, plus fixtures to connect
an account to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.integrations import accounts, plugins
from app.integrations.fake import FakeProvider
from tests.integrations import minicrm


def stamp(minutes: int = 0) -> str:
    """An ISO time `minutes` from now (UTC, Z)."""
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MiniCRM(FakeProvider):
    """The provider's store and API (paging by id after/since, batch upsert, messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.people: dict[str, dict] = {}
        self.messages: list[dict] = []
        self.next_id = 100
        self.fail: dict[str, list] = {}  # path -> answers to give before the real one
        self.route("GET", "/api/me", lambda call: {"email": "owner@minicrm.test"})
        self.route("GET", "/api/contacts", self._contacts)
        self.route("POST", "/api/contacts/batch", self._batch)
        self.route("GET", "/api/messages", self._messages)

    def add(self, email: str, **fields) -> dict:
        self.next_id += 1
        person = {"id": str(self.next_id), "email": email, "updated_at": stamp(), **fields}
        self.people[person["id"]] = person
        return person

    def change(self, person_id: str, minutes: int = 0, **fields) -> None:
        self.people[person_id].update(fields, updated_at=stamp(minutes))

    def _failing(self, path: str):
        queue = self.fail.get(path)
        return queue.pop(0) if queue else None

    def _contacts(self, call):
        failure = self._failing("/api/contacts")
        if failure is not None:
            return failure
        limit = int(call.arg("limit", "2"))
        after = int(call.arg("after") or 0)
        since = call.arg("since") or ""
        rows = sorted(
            (p for p in self.people.values() if int(p["id"]) > after and p["updated_at"] > since),
            key=lambda p: int(p["id"]),
        )
        return {"results": rows[:limit], "has_more": len(rows) > limit}

    def _batch(self, call):
        results = []
        for item in call.json["contacts"]:
            fields = {k: item[k] for k in ("email", "first_name", "last_name", "job_title")}
            if item.get("id") and item["id"] in self.people:
                self.change(item["id"], **fields)
                person = self.people[item["id"]]
            else:
                person = self.add(**fields)
            results.append(
                {"ref": item["ref"], "id": person["id"], "updated_at": person["updated_at"]}
            )
        return {"results": results}

    def _messages(self, call):
        failure = self._failing("/api/messages")
        if failure is not None:
            return failure
        offset, limit = int(call.arg("offset", "0")), int(call.arg("limit", "2"))
        rows = self.messages[offset : offset + limit]
        return {"messages": rows, "has_more": offset + limit < len(self.messages)}


@pytest.fixture
def minicrm_plugin(app):
    """MiniCRM loaded beside the installed plugins, for one test."""
    with app.app_context():
        plugin = plugins.load(extra=[("minicrm", minicrm)])["minicrm"]
    yield plugin
    plugins.load()


@pytest.fixture
def crm():
    with MiniCRM() as fake:
        yield fake


@pytest.fixture
def connect(app, crm, minicrm_plugin):
    """Connect a MiniCRM account whose API is the fake: connect(**settings) -> id."""

    def make(token: dict | None = None, **settings) -> int:
        app.config["INTEGRATIONS"]["minicrm"] = {
            "base_url": crm.url + "/api/",
            "client_id": "kontor",
            "client_secret": "s3cret",
            "token_url": crm.url + "/token",
        }
        with app.app_context():
            account = accounts.connect(
                "minicrm",
                token=token or {"access_token": "at-1", "token_type": "Bearer"},
                settings=settings,
                label="owner@minicrm.test",
            )
            db.session.commit()
            return account.id

    return make
