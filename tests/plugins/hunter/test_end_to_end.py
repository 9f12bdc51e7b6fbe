"""Hunter through Kontor the way production drives it: a connected account, contacts
created through the API, the jobs their events queue, the results on the contacts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.companies.models import Company
from app.contacts.models import Contact
from app.extensions import db
from app.integrations import accounts
from app.integrations.models import ConnectedAccount
from app.jobs import runner

from .conftest import KEY
from .hunter_fake import error, person, verification


@pytest.fixture
def ctx(app, fake):
    """An app context, Hunter's base URL pointed at the fake, and no real waiting."""
    app.config.setdefault("INTEGRATIONS", {})["hunter"] = {"base_url": fake.url + "/v2/"}
    with app.app_context():
        yield app


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    real = accounts.http_for

    def http_for(account, plugin, **options: Any):
        return real(account, plugin, **{"sleep": lambda s: None, **options})

    monkeypatch.setattr(accounts, "http_for", http_for)


def connect(**settings: Any) -> int:
    account = accounts.connect("hunter", secrets={"api_key": KEY}, settings=settings)
    db.session.commit()
    return account.id


def contacts() -> dict[str, Contact]:
    db.session.rollback()
    return {c.email: c for c in db.session.scalars(select(Contact))}


def test_new_contacts_are_verified(ctx, hunter, api):
    hunter.verifier["gone@initech.example"] = [
        (200, {"data": verification("gone@initech.example", "invalid", "undeliverable", 4)})
    ]
    hunter.verifier["peter@initech.example"] = [
        (200, {"data": verification("peter@initech.example", "valid", "deliverable", 96)})
    ]
    connect(verify_new=True)
    for email in ("gone@initech.example", "peter@initech.example"):
        assert api("member").post("/api/v1/contacts", json={"email": email}).status_code == 201

    assert runner.run_pending() == 2

    rows = contacts()
    gone, peter = rows["gone@initech.example"], rows["peter@initech.example"]
    assert (gone.email_verification, gone.email_score, gone.bounce_risk) == ("invalid", 4, "high")
    assert (peter.email_verification, peter.email_score, peter.bounce_risk) == ("valid", 96, "low")
    assert hunter.calls("domain-search") == []  # enrich_new is off


def test_new_contacts_are_enriched_without_overwriting(ctx, hunter, api):
    hunter.domains["initech.example"] = {
        "organization": "Initech",
        "emails": [
            person(
                "peter@initech.example",
                "Peter",
                "Gibbons",
                position="Engineer",
                department="it",
                linkedin="https://www.linkedin.com/in/pg",
            ),
            person("bill@initech.example", "Bill", "Lumbergh", position="Division VP"),
        ],
    }
    connect(enrich_new=True)
    for body in (
        {"email": "peter@initech.example"},
        {"email": "bill@initech.example", "job_title": "Boss"},
    ):
        assert api("member").post("/api/v1/contacts", json=body).status_code == 201

    assert runner.run_pending() == 2

    rows = contacts()
    peter, bill = rows["peter@initech.example"], rows["bill@initech.example"]
    assert (peter.first_name, peter.last_name, peter.job_title) == ("Peter", "Gibbons", "Engineer")
    assert peter.department == "IT"
    assert peter.linkedin_url == "https://www.linkedin.com/in/pg"
    assert db.session.get(Company, peter.company_id).name == "Initech"
    assert bill.job_title == "Boss"  # a field the user filled is left alone
    assert hunter.calls("email-verifier") == []  # verify_new is off


def test_revoked_key_asks_for_reconnecting_without_showing_it(ctx, hunter, api):
    account_id = connect(verify_new=True)
    hunter.key = "the-new-key"
    assert api("member").post("/api/v1/contacts", json={"email": "a@b.example"}).status_code == 201

    runner.run_pending()

    db.session.rollback()
    account = db.session.get(ConnectedAccount, account_id)
    assert account.status == "needs_reconnect"
    assert "No user found for the API key supplied" in account.last_error
    assert KEY not in account.last_error


def test_unreachable_hunter_error_shown_without_the_key(ctx, app, api, fake):
    secret = "hk-unreachable-77"
    app.config["INTEGRATIONS"]["hunter"] = {"base_url": "http://127.0.0.1:9/v2/"}
    account = accounts.connect("hunter", secrets={"api_key": secret}, settings={"verify_new": True})
    db.session.commit()
    account_id = account.id
    assert api("member").post("/api/v1/contacts", json={"email": "a@b.example"}).status_code == 201

    runner.run_pending()

    db.session.rollback()
    account = db.session.get(ConnectedAccount, account_id)
    assert "no answer from the provider" in account.last_error
    assert secret not in account.last_error


def test_used_up_credits_are_reported_once_not_retried(ctx, hunter, api):
    account_id = connect(verify_new=True)
    hunter.fail_next(error(429, "too_many_requests", "You have reached your usage limit"))
    assert api("member").post("/api/v1/contacts", json={"email": "a@b.example"}).status_code == 201

    runner.run_pending()

    db.session.rollback()
    account = db.session.get(ConnectedAccount, account_id)
    assert account.status == "error"  # not "needs reconnect": the key is fine
    assert "usage quota at the provider is used up" in account.last_error
    assert "You have reached your usage limit" in account.last_error
    assert len(hunter.calls("email-verifier")) == 1
