"""Tokens and roles: no token or a bad one is a 401, a viewer reads but never writes."""

from __future__ import annotations

import pytest

from app.cli import main

WRITES = [
    ("post", "/api/v1/contacts", {"email": "w@example.com"}),
    ("post", "/api/v1/contacts/batch", {"contacts": []}),
    ("patch", "/api/v1/contacts/1", {"first_name": "X"}),
    ("delete", "/api/v1/contacts/1", None),
    ("post", "/api/v1/companies", {"name": "Acme"}),
    ("post", "/api/v1/tags", {"name": "vip"}),
    ("post", "/api/v1/lists", {"name": "News"}),
    ("post", "/api/v1/lists/1/members", {"contact_ids": [1]}),
]


def test_no_token_and_bad_token_are_401(client, tokens):
    response = client.get("/api/v1/contacts")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    bad = client.get("/api/v1/contacts", headers={"Authorization": "Bearer ktr_wrong"})
    assert bad.status_code == 401
    basic = client.get("/api/v1/contacts", headers={"Authorization": f"Basic {tokens['admin']}"})
    assert basic.status_code == 401


def test_a_logged_in_browser_session_is_not_an_api_token(client, auth):
    auth.login("admin")
    assert client.get("/api/v1/contacts").status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_viewer_gets_403_on_every_write(api, method, path, body):
    api("member").post("/api/v1/contacts", json={"email": "one@example.com"})
    api("member").post("/api/v1/lists", json={"name": "Existing"})
    kwargs = {"json": body} if body is not None else {}
    response = getattr(api("viewer"), method)(path, **kwargs)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    member = getattr(api("member"), method)(path, **kwargs)
    assert member.status_code < 400, (path, member.json)


def test_viewer_reads_everything(api):
    for path in (
        "/api/v1/contacts",
        "/api/v1/companies",
        "/api/v1/tags",
        "/api/v1/lists",
    ):
        assert api("viewer").get(path).status_code == 200, path


def test_cli_token_works_against_the_api(client, runner, users):
    result = runner.invoke(main, args=["tokens", "create", "member@example.com"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/contacts", headers=headers).status_code == 200
    created = client.post("/api/v1/contacts", json={"email": "cli@example.com"}, headers=headers)
    assert created.status_code == 201
    assert created.json["owner"] == "member@example.com"
