"""The hubspot plugin's provider description, account identity and contact events."""

from __future__ import annotations

import pytest

import plugins.hubspot as hubspot
from app.integrations import plugins
from app.integrations.http import NeedsReconnect

ON = {"push_changes": True}
OFF = {"push_changes": False}


def test_describes_hubspot_over_oauth():
    provider = hubspot.describe_provider()
    assert (provider["name"], provider["label"], provider["auth"]) == (
        "hubspot",
        "HubSpot",
        "oauth2",
    )
    assert provider["base_url"] == "https://api.hubapi.com/"
    oauth = provider["oauth"]
    assert oauth["authorize_url"] == "https://app.hubspot.com/oauth/authorize"
    # The dated endpoints (the v1 ones are retired on 2027-02-16), client in the form.
    assert oauth["token_url"] == "https://api.hubapi.com/oauth/2026-03/token"
    assert oauth["revoke_url"] == "https://api.hubapi.com/oauth/2026-03/token/revoke"
    assert oauth["client_auth"] == "client_secret_post"
    assert oauth["scopes"] == ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write"]
    (setting,) = provider["settings"]
    assert (setting["name"], setting["type"], setting["default"]) == ("push_changes", "bool", True)
    assert setting["label"] == "Send changes made in Kontor to HubSpot"
    assert provider["sync_minutes"] == 30


def test_registers_as_a_kontor_plugin(monkeypatch):
    monkeypatch.setattr(plugins, "_manager", None)
    monkeypatch.setattr(plugins, "_plugins", {})
    loaded = plugins.load(env="none", extra=[("hubspot", hubspot)])
    plugin = loaded["hubspot"]
    assert plugin.label == "HubSpot"
    for hook in (
        "describe_provider",
        "identify_account",
        "pull_contacts",
        "push_contacts",
        "contact_event",
    ):
        assert plugin.implements(hook)
    assert not plugin.implements("pull_activities")


def test_identifies_the_portal(portal, http):
    assert hubspot.identify_account(http) == {
        "label": "HubSpot portal 62515",
        "details": {"Portal": "62515", "Time zone": "US/Eastern"},
    }


def test_names_a_portal_without_id_by_its_domain(portal, http):
    del portal.details["portalId"]
    assert hubspot.identify_account(http)["label"] == "app.hubspot.com"


def test_an_expired_token_asks_for_reconnecting(portal, http):
    portal.expired = True
    with pytest.raises(NeedsReconnect) as raised:
        hubspot.identify_account(http)
    assert raised.value.status == 401
    assert "expired" in raised.value.message


@pytest.mark.parametrize("kind", ["created", "updated", "merged"])
def test_kontor_changes_are_pushed(kind):
    event = {"kind": kind, "contact_ids": [7], "fields": None, "via": "web"}
    assert hubspot.contact_event(event, ON) == ["push_contacts"]


def test_changes_hubspot_sent_are_not_echoed_back():
    event = {"kind": "updated", "contact_ids": [7], "fields": ["phone"], "via": "sync:hubspot"}
    assert hubspot.contact_event(event, ON) is None


def test_changes_from_another_integration_are_pushed():
    event = {"kind": "updated", "contact_ids": [7], "fields": ["phone"], "via": "sync:outlook"}
    assert hubspot.contact_event(event, ON) == ["push_contacts"]


def test_nothing_is_pushed_when_push_is_off_or_for_deletions():
    event = {"kind": "updated", "contact_ids": [7], "fields": None, "via": "web"}
    assert hubspot.contact_event(event, OFF) is None
    deleted = {"kind": "deleted", "contact_ids": [7], "fields": None, "via": "web"}
    assert hubspot.contact_event(deleted, ON) is None
