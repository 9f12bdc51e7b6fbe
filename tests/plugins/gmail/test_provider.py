"""The gmail plugin as Kontor sees it: its description, the account, errors, base URLs."""

from __future__ import annotations

import pytest
import requests

import plugins.gmail as gmail
from app.integrations import plugins
from app.integrations.http import NeedsReconnect, OutsideBaseURL, ProviderHTTP

from .conftest import drain, message, person
from .google_fake import ME, PEOPLE


def test_the_plugin_is_found_through_its_entry_point(monkeypatch):
    monkeypatch.setattr(plugins, "_manager", None)
    monkeypatch.setattr(plugins, "_plugins", {})

    plugin = plugins.load(env="gmail")["gmail"]

    assert plugin.module is gmail
    assert plugin.label == "Google (Gmail)" and plugin.auth == "oauth2"
    assert {"identify_account", "pull_contacts", "pull_activities"} <= set(plugin.hooks)


def test_describe_provider():
    provider = gmail.describe_provider()

    assert provider["base_url"] == "https://gmail.googleapis.com/"
    assert provider["extra_base_urls"] == {"people": "https://people.googleapis.com/"}
    oauth = provider["oauth"]
    assert oauth["token_url"] == "https://oauth2.googleapis.com/token"
    assert oauth["authorize_params"] == {"access_type": "offline", "prompt": "consent"}
    assert "https://www.googleapis.com/auth/gmail.metadata" in oauth["scopes"]
    assert "https://www.googleapis.com/auth/contacts.readonly" in oauth["scopes"]
    settings = {s["name"]: s for s in provider["settings"]}
    assert settings["create_contacts"]["default"] is False
    assert settings["mail_days"]["type"] == "int" and settings["mail_days"]["default"] == 90
    assert provider["sync_minutes"] == 15


def test_identify_account(http, google):
    google.add_message(message(sender="ann@acme.example"))

    who = gmail.identify_account(http=http)

    assert who == {"label": ME, "details": {"Messages": "1", "Threads": "1"}}


def test_rate_limited_requests_wait_as_asked(http, google, waits):
    google.put_person(person(1, "ann@acme.example"))
    google.fail_next.append(
        (
            429,
            {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}},
            {"Retry-After": "7"},
        )
    )

    records, _, _ = drain(gmail.pull_contacts, http=http)

    assert [r["email"] for r in records] == ["ann@acme.example"]
    assert waits == [7.0]
    assert len(google.fake.calls_to(PEOPLE + "v1/people/me/connections")) == 2


UNAUTHENTICATED = (
    401,
    {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED",
        }
    },
)


@pytest.mark.parametrize("hook", ["identify_account", "pull_contacts", "pull_activities"])
def test_a_refused_token_needs_reconnecting(http, google, account, settings, hook):
    google.fail_next.append(UNAUTHENTICATED)
    args = {"http": http}
    if hook != "identify_account":
        args["cursor"] = None
    if hook == "pull_activities":
        args.update(settings=settings, account=account)

    with pytest.raises(NeedsReconnect):
        getattr(gmail, hook)(**args)


def test_requests_stay_under_the_base_urls(http, google, session, bases, settings, account):
    """Gmail calls go to the default base URL, People calls to "people", none elsewhere."""
    google.put_person(person(1, "ann@acme.example"))
    google.add_message(message(sender="ann@acme.example"))

    drain(gmail.pull_contacts, http=http)
    _, cursor, _ = drain(gmail.pull_activities, http=http, settings=settings, account=account)
    google.add_message(message(sender="bob@beta.example", days_ago=0))
    drain(gmail.pull_activities, http=http, settings=settings, account=account, cursor=cursor)
    gmail.identify_account(http=http)

    hosts = {url.removeprefix(google.fake.url).split("/")[1] for url in session.urls}
    assert hosts == {"gmail-host", "people-host"}
    assert len(session.urls) == len(google.fake.calls) == 7
    for url in session.urls:
        api = "people" if "/v1/people/" in url else "default"
        assert url.startswith(bases[api]), url


def test_an_api_missing_from_the_base_urls_is_refused(fake, google):
    with requests.Session() as session:
        http = ProviderHTTP({"default": fake.url + "/gmail-host/"}, session, sleep=lambda s: 0)
        with pytest.raises(OutsideBaseURL):
            gmail.pull_contacts(http=http, cursor=None)
    assert fake.calls == []
