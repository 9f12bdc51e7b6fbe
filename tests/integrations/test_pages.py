"""Settings → Integrations: account settings change what a sync does; bad values are
refused and change nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.contacts.models import Contact
from app.extensions import db
from app.integrations import sync
from app.integrations.models import ConnectedAccount
from app.jobs import runner
from tests.integrations.conftest import stamp


def test_turning_off_create_contacts_keeps_strangers_out(app, auth, crm, connect):
    account_id = connect()
    crm.messages.append(
        {"id": "m1", "from": "stranger@example.com", "to": ["owner@minicrm.test"],
         "subject": "Hi", "at": stamp(-1), "name": "Sam Stranger"}
    )  # fmt: skip
    auth.login("admin")
    page = auth.client.get("/settings/integrations/").text
    assert 'name="create_contacts" checked' in page  # the provider's default
    response = auth.post(
        f"/settings/integrations/accounts/{account_id}/settings", {"sync_minutes": "30"}
    )
    assert response.status_code == 302
    page = auth.client.get("/settings/integrations/").text
    assert "Settings of owner@minicrm.test saved." in page
    assert 'name="create_contacts" checked' not in page
    with app.app_context():
        account = db.session.get(ConnectedAccount, account_id)
        assert account.settings == {"create_contacts": False} and account.sync_minutes == 30
        sync.sync_account(account_id, ["activities"])
        assert db.session.scalar(select(Contact)) is None
    auth.post(
        f"/settings/integrations/accounts/{account_id}/settings",
        {"create_contacts": "on", "sync_minutes": "30"},
    )
    with app.app_context():
        crm.messages.append(dict(crm.messages[0], id="m2"))
        sync.sync_account(account_id, ["activities"])
        contact = db.session.scalar(select(Contact))
        assert (contact.email, contact.first_name, contact.last_name) == (
            "stranger@example.com",
            "Sam",
            "Stranger",
        )


def test_a_bad_schedule_is_refused_and_changes_nothing(app, auth, connect):
    account_id = connect()
    auth.login("admin")
    response = auth.post(
        f"/settings/integrations/accounts/{account_id}/settings", {"sync_minutes": "soon"}
    )
    assert response.status_code == 302
    page = auth.client.get("/settings/integrations/").text
    assert "Not saved; check: Minutes between syncs." in page
    with app.app_context():
        account = db.session.get(ConnectedAccount, account_id)
        assert account.sync_minutes is None and account.settings == {}


def test_sync_now_opens_the_job_page(app, auth, crm, connect):
    crm.add("ann@example.com", first_name="Ann")
    account_id = connect()
    auth.login("admin")
    response = auth.post(f"/settings/integrations/accounts/{account_id}/sync")
    assert response.status_code == 302
    job_page = auth.client.get(response.headers["Location"]).text
    assert "Sync minicrm: owner@minicrm.test" in job_page
    with app.app_context():
        runner.run_pending()
    job_page = auth.client.get(response.headers["Location"]).text
    assert '<dd data-count="created">1</dd>' in job_page
    assert '<dd data-count="activities">0</dd>' in job_page
