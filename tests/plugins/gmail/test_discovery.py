"""The checks against Google's discovery documents catch drift (else they prove nothing)."""

from __future__ import annotations

import pytest
import requests

from .conftest import check_against_discovery, message, person
from .discovery import check_request, check_response, find_method
from .google_fake import GMAIL, FakeGoogle


@pytest.mark.parametrize(
    ("api", "path", "query"),
    [
        ("gmail.v1", "gmail/v1/users/me/messages", {"since": ["2024"]}),
        ("gmail.v1", "gmail/v1/users/me/messages", {"maxResults": ["many"]}),
        ("gmail.v1", "gmail/v1/users/me/messages/abc", {"format": ["html"]}),
        ("gmail.v1", "gmail/v1/users/me/messages/abc", {"format": ["metadata", "minimal"]}),
        ("gmail.v1", "gmail/v1/users/me/history", {"historyTypes": ["messagesAdded"]}),
        ("gmail.v1", "gmail/v1/users/me/mail", {}),
        ("people.v1", "v1/people/me/connections", {"requestSyncToken": ["yes"]}),
        ("people.v1", "v1/people/me/contacts", {}),
    ],
)
def test_undocumented_requests_are_caught(api, path, query):
    with pytest.raises(AssertionError):
        check_request(api, "GET", path, query)


def test_documented_requests_pass():
    method = check_request(
        "gmail.v1",
        "GET",
        "gmail/v1/users/me/messages/18f0",
        {"format": ["metadata"], "metadataHeaders": ["From", "To"]},
    )
    assert method.id == "gmail.users.messages.get"
    assert (
        check_request(
            "people.v1", "GET", "v1/people/me/connections", {"syncToken": ["x"], "pageSize": ["5"]}
        ).id
        == "people.people.connections.list"
    )


@pytest.mark.parametrize(
    ("api", "path", "body"),
    [
        ("gmail.v1", "gmail/v1/users/me/messages", {"messages": [], "total": 3}),
        ("gmail.v1", "gmail/v1/users/me/messages/a", {"id": "a", "internalDate": 1714000000}),
        ("gmail.v1", "gmail/v1/users/me/messages/a", {"payload": {"headers": [{"key": "To"}]}}),
        ("gmail.v1", "gmail/v1/users/me/history", {"history": [{"messageAdded": []}]}),
        ("people.v1", "v1/people/me/connections", {"connections": [{"names": [{"first": 1}]}]}),
        ("people.v1", "v1/people/me/connections", {"nextSyncToken": 12}),
    ],
)
def test_answers_that_drift_from_the_schema_are_caught(api, path, body):
    method = find_method(api, "GET", path)
    with pytest.raises(AssertionError):
        check_response(api, method, 200, body)


def test_error_answers_need_googles_shape():
    method = find_method("gmail.v1", "GET", "gmail/v1/users/me/history")
    check_response("gmail.v1", method, 404, {"error": {"code": 404, "message": "Not Found"}})
    with pytest.raises(AssertionError):
        check_response("gmail.v1", method, 404, {"message": "Not Found"})


def test_the_fakes_answers_fit_the_schema(fake):
    """The fake's richest answers pass, so the checks after each test are meaningful."""
    google = FakeGoogle(fake)
    google.put_person(
        person(
            1,
            "a@example.org",
            "b@example.org",
            given="A",
            family="B",
            phones=[{"value": "+33612345678", "type": "mobile"}],
            organizations=[{"name": "Acme", "title": "CTO", "current": True}],
            urls=["https://linkedin.com/in/a"],
        )
    )
    sent = message(sender="me@example.com", to="a@example.org", labels=("SENT",))
    google.add_message(sent)
    with requests.Session() as session:
        for path in (
            "/people-host/v1/people/me/connections?personFields=names,emailAddresses,"
            "phoneNumbers,organizations,urls,metadata&requestSyncToken=true",
            f"{GMAIL}gmail/v1/users/me/profile",
            f"{GMAIL}gmail/v1/users/me/messages",
            f"{GMAIL}gmail/v1/users/me/messages/{sent['id']}?format=metadata",
            f"{GMAIL}gmail/v1/users/me/history?startHistoryId=1&historyTypes=messageAdded",
        ):
            assert session.get(fake.url + path, timeout=5).status_code == 200
    assert len(google.exchanges) == 5
    check_against_discovery(fake, google)

    google.exchanges[2].body["messages"][0]["labels"] = ["INBOX"]
    with pytest.raises(AssertionError, match="labels"):
        check_against_discovery(fake, google)
