"""The outlook plugin's provider description, account identity and contacts delta sync,
against a fake Microsoft Graph."""

from __future__ import annotations

import pytest

import plugins.outlook as outlook
from app.integrations import plugins
from app.integrations.http import NeedsReconnect, OutsideBaseURL

from .graph_fake import contact

SETTINGS = {"create_contacts": False, "mail_days": 90}


def pull_all(http, cursor=None):
    """Run pull_contacts page by page like the sync does; answer (records, cursor, pages)."""
    records, pages = [], 0
    while True:
        page = outlook.pull_contacts(http, cursor, SETTINGS)
        records += page["contacts"]
        cursor = page["cursor"]
        pages += 1
        if not page["more"]:
            return records, cursor, pages
        assert pages < 50, "the delta round never ended"


def test_describes_microsoft_graph_over_oauth():
    provider = outlook.describe_provider()
    assert provider["name"] == "outlook"
    assert provider["label"] == "Microsoft (Outlook)"
    assert provider["auth"] == "oauth2"
    assert provider["base_url"] == "https://graph.microsoft.com/v1.0/"
    oauth = provider["oauth"]
    assert oauth["authorize_url"] == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    assert oauth["token_url"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert "revoke_url" not in oauth
    # offline_access is what makes Microsoft hand out a refresh token.
    assert oauth["scopes"] == ["offline_access", "User.Read", "Contacts.Read", "Mail.Read"]
    settings = {s["name"]: s for s in provider["settings"]}
    assert (settings["create_contacts"]["type"], settings["create_contacts"]["default"]) == (
        "bool",
        False,
    )
    assert (settings["mail_days"]["type"], settings["mail_days"]["default"]) == ("int", 90)
    assert provider["sync_minutes"] == 15


def test_registers_as_a_kontor_plugin(monkeypatch):
    monkeypatch.setattr(plugins, "_manager", None)
    monkeypatch.setattr(plugins, "_plugins", {})
    loaded = plugins.load(env="none", extra=[("outlook", outlook)])
    plugin = loaded["outlook"]
    assert plugin.auth == "oauth2"
    assert plugin.label == "Microsoft (Outlook)"
    for hook in ("describe_provider", "identify_account", "pull_contacts", "pull_activities"):
        assert plugin.implements(hook)
    assert not plugin.implements("push_contacts")  # read-only scopes


def test_identifies_the_account_by_mail_address(graph, http):
    assert outlook.identify_account(http) == {
        "label": "MeganB@contoso.com",
        "details": {"Name": "Megan Bowen"},
    }


def test_identifies_a_mailbox_without_mail_by_its_sign_in_name(graph, http):
    graph.me["mail"] = None  # personal accounts and unlicensed users
    assert outlook.identify_account(http)["label"] == "meganb@contoso.onmicrosoft.com"


def test_maps_graph_contact_fields(graph, http):
    graph.contacts.put(
        contact(
            "AAMkADh1",
            None,
            emailAddresses=[
                {"name": "Pat", "address": "pat.avery@fabrikam.com"},
                {"name": "Pat (home)", "address": "pat@avery.example"},
                {"name": "dup", "address": "PAT.AVERY@fabrikam.com"},
            ],
            givenName="Pat",
            middleName="J",
            surname="Avery",
            jobTitle="Buyer",
            companyName="Fabrikam",
            department="Purchasing",
            businessPhones=["+1 425 555 0100", "+1 425 555 0101"],
            mobilePhone="+1 425 555 0199",
            homePhones=["+1 425 555 0150"],
            birthday="1984-07-22T00:00:00Z",
            businessAddress={
                "street": "1 Microsoft Way\nBuilding 4",
                "city": "Redmond",
                "state": "WA",
                "countryOrRegion": "US",
                "postalCode": "98052",
            },
            lastModifiedDateTime="2024-05-06T07:08:09Z",
        )
    )
    records, _, _ = pull_all(http)
    assert records == [
        {
            "remote_id": "AAMkADh1",
            "email": "pat.avery@fabrikam.com",
            "secondary_emails": ["pat@avery.example"],
            "first_name": "Pat",
            "middle_name": "J",
            "last_name": "Avery",
            "job_title": "Buyer",
            "company": "Fabrikam",
            "department": "Purchasing",
            "phone": "+1 425 555 0100",
            "mobile_phone": "+1 425 555 0199",
            "home_phone": "+1 425 555 0150",
            "secondary_phones": ["+1 425 555 0101"],
            "remote_updated_at": "2024-05-06T07:08:09Z",
            "birthday": "1984-07-22",
            "address_line1": "1 Microsoft Way",
            "address_line2": "Building 4",
            "city": "Redmond",
            "state": "WA",
            "postcode": "98052",
            "country": "US",
        }
    ]


def test_full_delta_follows_next_links_and_keeps_the_delta_link(graph, fake, http):
    graph.contacts.put(
        contact("c1", "ann@example.com", givenName="Ann"),
        contact("c2", "bob@example.com", givenName="Bob"),
        contact("c3", None, displayName="Only a phone", mobilePhone="+44 20 7946 0000"),
        contact("c4", "cyd@example.com"),
        contact("c5", "dee@example.com"),
    )
    records, cursor, pages = pull_all(http)

    assert pages == 3  # page size 2 at the fake: 5 contacts
    assert [r["email"] for r in records] == [
        "ann@example.com",
        "bob@example.com",
        "cyd@example.com",
        "dee@example.com",
    ]  # the contact without an email is left out
    calls = graph.contacts.calls
    assert {"emailAddresses", "givenName", "surname", "lastModifiedDateTime"} <= set(
        calls[0].arg("$select").split(",")
    )
    assert calls[0].headers["prefer"].startswith("odata.maxpagesize=")
    # Later pages are the absolute next links, sent back as they came.
    assert [c.arg("$skiptoken") is not None for c in calls] == [False, True, True]
    assert cursor["delta"].startswith(fake.url + "/v1.0/me/contacts/delta?$deltatoken=")


def test_interrupted_round_resumes_from_the_saved_next_link(graph, http):
    graph.contacts.put(*(contact(f"c{i}", f"p{i}@example.com") for i in range(5)))
    first = outlook.pull_contacts(http, None, SETTINGS)
    assert first["more"] and "next" in first["cursor"]
    # The sync stops here; the next run starts from the cursor saved with page one.
    rest, cursor, _ = pull_all(http, first["cursor"])
    emails = [r["email"] for r in first["contacts"] + rest]
    assert emails == [f"p{i}@example.com" for i in range(5)]
    assert "delta" in cursor


def test_incremental_sync_answers_only_changes_and_removals(graph, http):
    graph.contacts.put(
        contact("c1", "ann@example.com", givenName="Ann"),
        contact("c2", "bob@example.com"),
        contact("c3", "cyd@example.com"),
    )
    _, cursor, _ = pull_all(http)

    graph.contacts.put(contact("c1", "ann@example.com", givenName="Annie"))
    graph.contacts.put(contact("c9", "new@example.com"))
    graph.contacts.remove("c3")
    records, cursor2, _ = pull_all(http, cursor)

    assert [(r["remote_id"], r.get("email"), r.get("deleted")) for r in records] == [
        ("c1", "ann@example.com", None),
        ("c9", "new@example.com", None),
        ("c3", None, True),
    ]
    assert records[0]["first_name"] == "Annie"
    assert records[2] == {"remote_id": "c3", "deleted": True}
    fresh = [c for c in graph.contacts.calls if not {"$skiptoken", "$deltatoken"} & set(c.query)]
    assert len(fresh) == 1  # only the first sync read everything
    assert cursor2 != cursor

    # Nothing changed since: the next sync brings nothing.
    records, _, _ = pull_all(http, cursor2)
    assert records == []


def test_expired_delta_token_restarts_with_a_full_sync(graph, http):
    graph.contacts.put(contact("c1", "ann@example.com"), contact("c2", "bob@example.com"))
    _, cursor, _ = pull_all(http)
    graph.contacts.put(contact("c3", "cyd@example.com"))
    graph.contacts.expire_tokens()

    records, cursor2, _ = pull_all(http, cursor)

    assert sorted(r["email"] for r in records) == [
        "ann@example.com",
        "bob@example.com",
        "cyd@example.com",
    ]
    calls = graph.contacts.calls
    refused = [c for c in calls if c.arg("$deltatoken") == cursor["delta"].rpartition("=")[2]]
    assert len(refused) == 1  # answered 410 once, not retried
    assert "delta" in cursor2
    # The fresh delta link works.
    graph.contacts.put(contact("c4", "dee@example.com"))
    assert [r["email"] for r in pull_all(http, cursor2)[0]] == ["dee@example.com"]


def test_throttled_request_waits_as_long_as_graph_asks(graph, http, waits):
    graph.contacts.put(contact("c1", "ann@example.com"))
    graph.contacts.fail_next.append(
        (
            429,
            {
                "error": {
                    "code": "TooManyRequests",
                    "message": "Application is over its MailboxConcurrency limit.",
                }
            },
            {"Retry-After": "7"},
        )
    )
    records, _, _ = pull_all(http)
    assert [r["email"] for r in records] == ["ann@example.com"]
    assert waits == [7.0]
    assert len(graph.contacts.calls) == 2


def test_expired_access_token_asks_for_reconnecting(graph, http):
    graph.contacts.fail_next.append(
        (
            401,
            {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "Access token has expired or is not yet valid.",
                }
            },
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    )
    with pytest.raises(NeedsReconnect) as caught:
        outlook.pull_contacts(http, None, SETTINGS)
    assert caught.value.status == 401
    assert "expired" in caught.value.message


def test_next_link_outside_the_base_url_is_refused(fake, http):
    fake.json(
        "GET",
        "/v1.0/me/contacts/delta",
        {
            "value": [contact("c1", "ann@example.com")],
            "@odata.nextLink": "https://attacker.example/v1.0/me/contacts/delta?$skiptoken=x",
        },
    )
    with pytest.raises(OutsideBaseURL):
        outlook.pull_contacts(http, None, SETTINGS)
    # A cursor saved before the base URL changed is refused as well, never requested.
    before = len(fake.calls)
    with pytest.raises(OutsideBaseURL):
        outlook.pull_contacts(http, {"delta": "https://attacker.example/v1.0/x"}, SETTINGS)
    assert len(fake.calls) == before
