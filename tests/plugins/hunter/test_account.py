"""The account: who it is and how many credits it has left; the key's safety; which new
contacts the account's settings ask Hunter about."""

from __future__ import annotations

import json
import logging
import socket
import traceback

import pytest
import requests

from app.integrations import plugins
from app.integrations.http import ProviderError, ProviderHTTP
from plugins import hunter as plugin
from plugins.hunter.client import MASK, scrub

from .conftest import KEY
from .hunter_fake import KEY_IN_URL, FakeHunter, error, person, verification

SECRET = "hk-7f3a9c2e5b"


def test_account_label_and_credits_left(hunter, http):
    answer = plugin.identify_account(http)

    assert answer == {
        "label": "ann@acme.test",
        "details": {
            "Plan": "Starter",
            "Verifications left": "960",
            "Searches left": "380",
            "Renews on": "2025-07-01",
        },
    }
    [call] = hunter.calls("account")
    assert call.headers["x-api-key"] == KEY


def test_account_with_credits_meter(hunter, http):
    hunter.account["requests"]["credits"] = {"used": 30, "available": 25}

    details = plugin.identify_account(http)["details"]

    assert details["Credits left"] == "0"


def test_hunter_loads_as_an_api_key_provider():
    loaded = plugins.load()["hunter"]

    assert loaded.auth == "api_key"
    assert loaded.provider["api_key_fields"] == [{"name": "api_key", "label": "API key"}]
    assert {s["name"]: s["default"] for s in loaded.provider["settings"]} == {
        "verify_new": False,
        "enrich_new": False,
    }
    assert loaded.provider["sync_minutes"] == 0
    assert not loaded.implements("pull_contacts")


@pytest.fixture
def secret_http(fake, waits):
    with requests.Session() as session:
        yield ProviderHTTP(
            [fake.url + "/v2/"], session, secrets={"api_key": SECRET}, sleep=waits.append
        )


def test_key_sent_on_every_request_and_never_returned(fake, secret_http):
    hunter = FakeHunter(fake, key=SECRET)
    hunter.verifier["a@initech.test"] = [
        (202, None),
        (
            200,
            {
                "data": verification("a@initech.test", "valid", "deliverable", 91),
                "meta": {"params": {"email": "a@initech.test"}},
            },
        ),
    ]
    hunter.domains["initech.test"] = {
        "organization": "Initech",
        "emails": [person("a@initech.test", "A", "B", position="CEO")],
    }
    hunter.people[("initech.test", "A", "B")] = {"email": "a@initech.test", "position": "CEO"}

    answers = [
        plugin.identify_account(secret_http),
        plugin.verify_email(secret_http, "a@initech.test"),
        plugin.enrich_contact(secret_http, {"email": "a@initech.test"}),
        plugin.enrich_contact(
            secret_http,
            {
                "email": "a@gmail.com",
                "first_name": "A",
                "last_name": "B",
                "company_domain": "initech.test",
            },
        ),
    ]

    assert all(answers)
    assert SECRET not in json.dumps(answers)
    assert len(fake.calls) == 5
    for call in fake.calls:
        assert call.headers["x-api-key"] == SECRET
        assert SECRET not in call.path + json.dumps(call.query)


def test_key_never_reaches_urllib3_debug_log(fake, secret_http, caplog, monkeypatch):
    # Alembic's logging config (run by other tests' migrations) disables loggers that
    # existed before it: switch urllib3's back on so this test sees what it would log.
    for name in ("urllib3", "urllib3.connectionpool"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    hunter = FakeHunter(fake, key=SECRET)
    hunter.verifier["a@initech.test"] = [
        (200, {"data": verification("a@initech.test", "valid", "deliverable", 91)})
    ]
    caplog.set_level(logging.DEBUG, logger="urllib3")

    assert plugin.verify_email(secret_http, "a@initech.test")["status"] == "deliverable"

    logged = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/v2/email-verifier?email=a%40initech.test" in line for line in logged)
    assert SECRET not in caplog.text
    assert not [line for line in logged if SECRET in line]


def test_fake_hunter_refuses_a_key_in_the_query_string(hunter, fake):
    answer = requests.get(
        fake.url + "/v2/account", params={"api_key": KEY}, headers={"X-API-KEY": KEY}, timeout=5
    )

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["details"] == KEY_IN_URL


def test_request_without_the_key_header_is_refused_as_hunter_does(hunter, fake):
    answer = requests.get(fake.url + "/v2/account", timeout=5)

    assert answer.status_code == 401
    assert answer.json()["errors"][0]["id"] == "authentication_failed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hunter_error_does_not_reveal_the_key(waits):
    with requests.Session() as session:
        http = ProviderHTTP(
            [f"http://127.0.0.1:{free_port()}/v2/"],
            session,
            secrets={"api_key": SECRET},
            max_retries=1,
            sleep=waits.append,
        )
        with pytest.raises(ProviderError) as caught:
            plugin.verify_email(http, "a@initech.test")

    shown = "".join(traceback.format_exception(caught.value))
    assert "no answer from the provider" in caught.value.message
    assert SECRET not in shown
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_unauthorized_error_does_not_reveal_the_key(fake, secret_http):
    FakeHunter(fake, key="another-key")

    with pytest.raises(ProviderError) as caught:
        plugin.identify_account(secret_http)

    assert SECRET not in "".join(traceback.format_exception(caught.value))


def test_key_echoed_in_hunter_error_is_masked(hunter, http):
    hunter.fail_next(error(401, "authentication_failed", f"The API key {KEY} is not valid"))

    with pytest.raises(ProviderError) as caught:
        plugin.identify_account(http)

    assert caught.value.status == 401
    assert caught.value.message == f"The API key {MASK} is not valid"
    assert KEY not in "".join(traceback.format_exception(caught.value))


def test_scrub_leaves_messages_alone_for_a_short_key():
    message = "No user found for the API key supplied"

    assert scrub(message, "k") == message


def test_hunter_errors_read_as_hunter_words(hunter, http):
    http.secrets["api_key"] = "revoked"

    with pytest.raises(ProviderError) as caught:
        plugin.identify_account(http)

    assert caught.value.message == "No user found for the API key supplied"


SETTINGS = [
    ({"verify_new": False, "enrich_new": False}, None),
    ({"verify_new": True, "enrich_new": False}, ["verify_email"]),
    ({"verify_new": False, "enrich_new": True}, ["enrich_contact"]),
    ({"verify_new": True, "enrich_new": True}, ["verify_email", "enrich_contact"]),
]


@pytest.mark.parametrize(("settings", "wanted"), SETTINGS)
@pytest.mark.parametrize("via", ["web", "api", "import", "sync:gmail"])
def test_new_contacts_are_checked_as_settings_say(settings, wanted, via):
    event = {"kind": "created", "contact_ids": [1, 2], "fields": None, "via": via}

    assert plugin.contact_event(event, settings) == wanted


@pytest.mark.parametrize("kind", ["updated", "merged", "deleted"])
def test_other_events_ask_for_nothing(kind):
    event = {"kind": kind, "contact_ids": [1], "fields": ["email"], "via": "web"}

    assert plugin.contact_event(event, {"verify_new": True, "enrich_new": True}) is None


def test_contacts_hunter_itself_created_are_left_alone():
    event = {"kind": "created", "contact_ids": [1], "fields": None, "via": "sync:hunter"}

    assert plugin.contact_event(event, {"verify_new": True, "enrich_new": True}) is None
