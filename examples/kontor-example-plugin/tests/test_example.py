"""The example plugin through Kontor: a sync writes contacts and the timeline once,
contact events ask for verification, and the provider's errors are handled."""

from __future__ import annotations

import kontor_example
import pytest
from sqlalchemy import func, select

from app.contacts import service
from app.contacts.models import Contact
from app.extensions import db
from app.integrations import plugins
from app.integrations.sync import SyncFailed, sync_account
from app.jobs.runner import run_pending
from app.timeline.models import Activity


def contacts() -> dict[str, Contact]:
    return {c.email: c for c in db.session.scalars(select(Contact))}


def test_kontor_finds_it_through_its_entry_point(kontor_app):
    plugin = plugins.get("example")
    assert plugin is not None, "install the package first: pip install -e ."
    assert (plugin.version, plugin.label, plugin.auth) == ("0.2.0", "Example CRM", "api_key")
    assert set(plugin.hooks) == {
        "describe_provider",
        "identify_account",
        "pull_contacts",
        "pull_activities",
        "verify_email",
        "contact_event",
    }


def test_a_sync_pages_through_contacts_then_only_asks_for_changes(
    kontor_app, example_api, account, monkeypatch
):
    monkeypatch.setattr(kontor_example, "PAGE_SIZE", 2)
    ann = example_api.person("ann@example.com", given_name="Ann", title="CTO")
    example_api.person("bob@example.com", given_name="Bob", organization="Bobco")
    example_api.person("cy@example.com", family_name="Young")

    first = sync_account(account.id)
    assert first["created"] == 3
    assert (account.label, account.details) == (
        "owner@example.com",
        {"Plan": "Starter", "Credits left": "42"},
    )
    rows = contacts()
    assert sorted(rows) == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert (rows["ann@example.com"].first_name, rows["ann@example.com"].job_title) == ("Ann", "CTO")
    pages = [
        (c.arg("page"), c.arg("changed_since")) for c in example_api.fake.calls_to("/v1/contacts")
    ]
    assert pages == [(None, None), ("2", None)]

    again = sync_account(account.id)
    assert (again["created"], again["updated"]) == (0, 0)
    assert example_api.fake.calls_to("/v1/contacts")[-1].arg("changed_since") == "3"

    example_api.change(ann, title="CEO")
    third = sync_account(account.id)
    assert (third["created"], third["updated"]) == (0, 1)
    assert contacts()["ann@example.com"].job_title == "CEO"
    assert db.session.scalar(select(func.count(Contact.id))) == 3


def test_a_contact_kontor_knows_is_matched_by_email(kontor_app, example_api, account):
    service.create_contact({"email": "ann@example.com", "first_name": "Annie"}, via="web")
    db.session.commit()
    example_api.person("ANN@example.com", given_name="Ann", title="CTO")
    result = sync_account(account.id, ["contacts"])
    assert result["created"] == 0
    [ann] = contacts().values()
    assert (ann.first_name, ann.job_title) == ("Annie", "CTO")  # only empty fields filled


def test_mail_lands_on_the_timeline_once(kontor_app, example_api, account):
    service.create_contact({"email": "ann@example.com"}, via="web")
    db.session.commit()
    example_api.message("out", "ann@example.com", "Proposal")
    example_api.message("in", "ann@example.com", "Re: Proposal")
    example_api.message("in", "news@lists.example.com", "Digest", bulk=True)

    assert sync_account(account.id, ["activities"])["activities"] == 2
    assert sync_account(account.id, ["activities"])["activities"] == 0
    mail = db.session.execute(
        select(Activity.kind, Activity.subject).where(Activity.source == "example")
    ).all()
    assert sorted(mail) == [("email_received", "Re: Proposal"), ("email_sent", "Proposal")]
    assert list(contacts()) == ["ann@example.com"]  # create_contacts is off by default


def test_new_contacts_get_their_email_verified(kontor_app, example_api, account):
    example_api.verdicts["gone@example.com"] = "undeliverable"
    service.create_contact({"email": "gone@example.com"}, via="web")
    db.session.commit()
    assert example_api.fake.calls_to("/v1/verifications") == []  # not while saving
    assert run_pending() == 1
    gone = contacts()["gone@example.com"]
    assert (gone.email_verification, gone.bounce_risk) == ("invalid", "high")


def test_a_refused_key_asks_for_a_new_one(kontor_app, example_api, account):
    example_api.down.append((401, {"error": {"message": "Unknown API key"}}, {}))
    with pytest.raises(SyncFailed):
        sync_account(account.id)
    assert account.status == "needs_reconnect"
    assert "Unknown API key" in account.last_error


def test_a_rate_limit_is_waited_out(kontor_app, example_api, account):
    example_api.person("ann@example.com")
    example_api.down.append((429, {"error": {"message": "Slow down"}}, {"Retry-After": "7"}))
    waits: list[float] = []
    result = sync_account(account.id, ["contacts"], http_options={"sleep": waits.append})
    assert waits == [7.0]
    assert result["created"] == 1
