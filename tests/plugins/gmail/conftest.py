"""Fixtures for the gmail plugin: a fake Google on 127.0.0.1, the HTTP client a sync
would hand the plugin (pointed at it), and, after every test, a check of every request
the plugin sent and every answer the fake gave against Google's discovery documents."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from app.integrations.fake import FakeProvider
from app.integrations.http import ProviderHTTP

from . import discovery
from .google_fake import GMAIL, ME, PEOPLE, FakeGoogle

DAY_MS = 86_400_000


class GuardedSession(requests.Session):
    """A requests session that remembers every URL it was asked to fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def request(self, method, url, *args, **kwargs):
        self.urls.append(url)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def fake():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def google(fake):
    google = FakeGoogle(fake)
    yield google
    check_against_discovery(fake, google)


def check_against_discovery(fake: FakeProvider, google: FakeGoogle) -> None:
    """Every request under a known API calls a documented method with documented
    parameters; every answer the fake gave fits the method's response schema."""
    for call in fake.calls:
        if call.path.startswith(GMAIL):
            discovery.check_request("gmail.v1", call.method, call.path[len(GMAIL) :], call.query)
        elif call.path.startswith(PEOPLE):
            discovery.check_request("people.v1", call.method, call.path[len(PEOPLE) :], call.query)
        else:
            raise AssertionError(f"a request to neither API: {call.method} {call.path}")
    for exchange in google.exchanges:
        prefix = GMAIL if exchange.api == "gmail.v1" else PEOPLE
        method = discovery.find_method(
            exchange.api, exchange.call.method, exchange.call.path[len(prefix) :]
        )
        discovery.check_response(exchange.api, method, exchange.status, exchange.body)


@pytest.fixture
def waits():
    """The seconds the client slept between retries."""
    return []


@pytest.fixture
def session():
    with GuardedSession() as s:
        yield s


@pytest.fixture
def bases(fake):
    return {"default": fake.url + GMAIL, "people": fake.url + PEOPLE}


@pytest.fixture
def http(bases, session, waits):
    return ProviderHTTP(bases, session, sleep=waits.append)


@pytest.fixture
def account():
    return {"id": 1, "label": ME, "details": {}}


@pytest.fixture
def settings():
    return {"create_contacts": False, "mail_days": 90}


# --------------------------------------------------------------------------- builders


def person(
    number: int,
    *emails: str,
    given: str | None = None,
    family: str | None = None,
    phones: list[dict[str, Any]] | None = None,
    organizations: list[dict[str, Any]] | None = None,
    urls: list[str] | None = None,
    updated: str = "2024-05-02T09:30:15.123456789Z",
) -> dict[str, Any]:
    """A Person as people.connections.list answers it with all fields asked for."""
    rid = f"people/c{number}"
    source = {"type": "CONTACT", "id": f"{number:x}"}
    field_meta = {"primary": True, "source": source}
    body: dict[str, Any] = {
        "resourceName": rid,
        "etag": f"%EgUBAgMFBy{number}",
        "metadata": {
            "sources": [{**source, "etag": f"#{number}", "updateTime": updated}],
            "objectType": "PERSON",
        },
    }
    if given or family:
        body["names"] = [
            {
                "metadata": field_meta,
                "displayName": " ".join(n for n in (given, family) if n),
                "givenName": given,
                "familyName": family,
            }
        ]
        body["names"][0] = {k: v for k, v in body["names"][0].items() if v is not None}
    if emails:
        body["emailAddresses"] = [
            {
                "metadata": {"primary": i == 0, "source": source},
                "value": value,
                "type": "work" if i == 0 else "home",
            }
            for i, value in enumerate(emails)
        ]
    if phones:
        body["phoneNumbers"] = [{"metadata": {"source": source}, **p} for p in phones]
    if organizations:
        body["organizations"] = [{"metadata": {"source": source}, **o} for o in organizations]
    if urls:
        body["urls"] = [{"metadata": {"source": source}, "value": u} for u in urls]
    return body


_ids = iter(range(0x18F0000000000000, 0x18F0000000100000, 0x1111))


def message(
    *,
    sender: str,
    to: str = ME,
    cc: str | None = None,
    subject: str = "Hello",
    labels: tuple[str, ...] = ("INBOX", "UNREAD"),
    days_ago: float = 1,
    headers: dict[str, str] | None = None,
    snippet: str = "Just checking in",
) -> dict[str, Any]:
    """A message as the fake stores it (``headers`` become ``payload.headers``)."""
    ident = f"{next(_ids):x}"
    millis = int(time.time() * 1000 - days_ago * DAY_MS)
    head = [
        ("Delivered-To", ME),
        ("Received", "from mail.example.net by mx.google.com"),
        ("From", sender),
        ("To", to),
        ("Subject", subject),
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(millis / 1000))),
    ]
    if cc:
        head.append(("Cc", cc))
    head.extend((headers or {}).items())
    return {
        "id": ident,
        "threadId": ident,
        "labelIds": list(labels),
        "snippet": snippet,
        "sizeEstimate": 4321,
        "internalDate": str(millis),
        "headers": head,
    }


def drain(hook, *, limit: int = 50, **kwargs) -> tuple[list[dict[str, Any]], Any, int]:
    """Call a pull hook page after page like a sync does: (records, last cursor, pages)."""
    key = "contacts" if hook.__name__ == "pull_contacts" else "activities"
    records: list[dict[str, Any]] = []
    cursor = kwargs.pop("cursor", None)
    for pages in range(1, limit + 1):
        answer = hook(cursor=cursor, **kwargs)
        records.extend(answer[key])
        cursor = answer["cursor"]
        if not answer["more"]:
            return records, cursor, pages
    raise AssertionError(f"{hook.__name__} never finished")
