"""End to end over OAuth 2, against an authorization server on 127.0.0.1 (authlib's
server pieces): connect through Settings → Integrations (state and PKCE), sync, the
token expires → refreshed → sync again, a refused refresh → "needs reconnect",
disconnect → the provider revokes the token; with the client authenticated by HTTP Basic
or, for a provider that asks for it (HubSpot), in the form."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from app.contacts.models import Contact
from app.extensions import db
from app.integrations import accounts
from app.integrations.models import ConnectedAccount
from app.jobs import runner
from app.jobs.models import Job
from tests.integrations.conftest import stamp
from tests.integrations.oauth_server import AuthServer

CALLBACK = "http://localhost/settings/integrations/minicrm/callback"


@pytest.fixture(params=["client_secret_basic", "client_secret_post"])
def server(request, app, minicrm_plugin):
    """The authorization server, accepting the client only as `client_auth` says."""
    server = AuthServer("kontor", "s3cret", CALLBACK, auth_methods=(request.param,)).start()
    app.config["INTEGRATIONS"]["minicrm"] = {
        "client_auth": request.param,
        "client_id": "kontor",
        "client_secret": "s3cret",
        "authorize_url": server.url + "/authorize",
        "token_url": server.url + "/token",
        "revoke_url": server.url + "/revoke",
        "base_url": server.url + "/api/",
    }
    yield server
    server.stop()


def _person(n: int) -> dict:
    return {
        "id": str(n),
        "email": f"p{n}@example.com",
        "first_name": f"P{n}",
        "updated_at": stamp(),
    }


def _sync(auth, account_id: int) -> Job:
    response = auth.post(f"/settings/integrations/accounts/{account_id}/sync")
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    runner.run_pending()
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    return db.session.get(Job, job_id)


def test_connect_sync_refresh_and_reconnect(app, auth, server):
    server.state.people = [_person(1)]
    auth.login("admin")
    page = auth.client.get("/settings/integrations/").text
    assert "MiniCRM" in page and "Not connected" in page

    response = auth.client.get("/settings/integrations/minicrm/connect")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(server.url + "/authorize")
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    assert query["redirect_uri"] == [CALLBACK]
    # A callback with another state is refused.
    forged = auth.client.get("/settings/integrations/minicrm/callback?code=x&state=forged")
    assert forged.status_code == 302
    assert "expired or was not started here" in auth.client.get("/settings/integrations/").text
    response = auth.client.get("/settings/integrations/minicrm/connect")
    location = response.headers["Location"]

    # The browser visits the provider, which consents and sends it back with a code.
    answer = requests.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = answer.headers["Location"]
    assert back.startswith(CALLBACK)
    response = auth.client.get(back.removeprefix("http://localhost"))
    assert response.status_code == 302
    page = auth.client.get("/settings/integrations/").text
    assert "MiniCRM connected as owner@minicrm.test." in page
    assert "Needs reconnect" not in page

    with app.app_context():
        account = db.session.scalar(select(ConnectedAccount))
        token = accounts.credentials(account)["token"]
        assert token["access_token"] == server.state.tokens[-1].access_token
        assert token["access_token"] not in account.token_encrypted
        # Connecting queued a first sync.
        runner.run_pending()
        assert db.session.scalar(select(Contact.email)) == "p1@example.com"
        account_id = account.id

        # The access token expires at the provider: the next sync refreshes it and goes on.
        server.expire_tokens()
        server.state.people.append(_person(2))
        job = _sync(auth, account_id)
        assert job.status == "done", (job.message, job.errors)
        assert server.state.refreshes == 1
        db.session.expire_all()
        assert sorted(db.session.scalars(select(Contact.email))) == [
            "p1@example.com",
            "p2@example.com",
        ]
        stored = accounts.credentials(db.session.get(ConnectedAccount, account_id))["token"]
        assert stored["access_token"] == server.state.tokens[-1].access_token  # the new one

        # The provider refuses the refresh: the account needs reconnecting, and says so.
        server.expire_tokens()
        server.state.refuse_refresh = True
        job = _sync(auth, account_id)
        assert job.status == "failed"
        db.session.expire_all()
        assert db.session.get(ConnectedAccount, account_id).status == "needs_reconnect"
    page = auth.client.get("/settings/integrations/").text
    assert "Needs reconnect" in page and "connect it again" in page
    assert 'href="/settings/integrations/minicrm/connect">Reconnect' in page

    # Disconnect: the provider is asked to revoke the token; the contacts stay.
    refresh_token = server.state.tokens[-1].refresh_token
    response = auth.post(f"/settings/integrations/accounts/{account_id}/disconnect")
    assert response.status_code == 302
    assert server.state.revoked == [refresh_token]
    assert server.state.revoke_hints == ["refresh_token"]
    page = auth.client.get("/settings/integrations/").text
    assert "disconnected; the provider revoked its access" in page
    assert "Not connected" in page
    with app.app_context():
        assert db.session.scalar(select(ConnectedAccount)) is None
        assert len(db.session.scalars(select(Contact)).all()) == 2


def test_the_user_refusing_consent_connects_nothing(app, auth, server):
    auth.login("admin")
    auth.client.get("/settings/integrations/minicrm/connect")
    response = auth.client.get(
        "/settings/integrations/minicrm/callback?error=access_denied&error_description=No+thanks"
    )
    assert response.status_code == 302
    assert "MiniCRM did not connect: No thanks" in auth.client.get("/settings/integrations/").text
    with app.app_context():
        assert db.session.scalar(select(ConnectedAccount)) is None


def test_only_admins_see_integrations(auth, server):
    auth.login("member")
    assert auth.client.get("/settings/integrations/").status_code == 403
    assert auth.client.get("/settings/integrations/minicrm/connect").status_code == 403
