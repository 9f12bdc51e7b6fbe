"""The outlook plugin's mail sync: Inbox and Sent Items message deltas into timeline
records, against a fake Microsoft Graph."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import plugins.outlook as outlook

from .graph_fake import message

SETTINGS = {"create_contacts": False, "mail_days": 90}


def ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:00Z")


def sync(http, account, cursor=None, settings=SETTINGS):
    """Run pull_activities page by page like the sync does; answer (records, cursor)."""
    records, pages = [], 0
    while True:
        page = outlook.pull_activities(http, cursor, settings, account)
        records += page["activities"]
        cursor = page["cursor"]
        pages += 1
        if not page["more"]:
            return records, cursor
        assert pages < 50, "the delta rounds never ended"


@pytest.fixture
def mailbox(graph):
    graph.inbox.put(
        message("i1", "ann@fabrikam.com", ["MeganB@contoso.com"], ago(3), subject="Quote"),
        message(
            "i2",
            "bob@fabrikam.com",
            ["meganb@contoso.com", "cyd@fabrikam.com"],
            ago(2),
            cc=["ann@fabrikam.com"],
            subject="Re: Quote",
        ),
        message("i3", "no-reply@shop.example", ["meganb@contoso.com"], ago(1)),
        message("old", "ann@fabrikam.com", ["meganb@contoso.com"], ago(200)),
    )
    graph.sent.put(
        message("s1", "MeganB@contoso.com", ["ann@fabrikam.com"], ago(2), subject="Quote v2"),
    )
    return graph


def test_first_sync_reads_both_folders_within_mail_days(mailbox, http, account):
    records, cursor = sync(http, account)

    by_id = {r["external_id"]: r for r in records}
    assert set(by_id) == {
        "outlook:<i1@mail.contoso.com>",
        "outlook:<i2@mail.contoso.com>",
        "outlook:<i3@mail.contoso.com>",
        "outlook:<s1@mail.contoso.com>",
    }  # the 200-day-old message is outside the 90-day window
    received = by_id["outlook:<i2@mail.contoso.com>"]
    assert received["kind"] == "email_received"
    assert received["subject"] == "Re: Quote"
    assert received["body"] == "Preview of Re: Quote"
    assert received["occurred_at"] == mailbox.inbox.items["i2"]["receivedDateTime"]
    assert received["automated"] is False
    # from + to + cc, own address left out whatever its case
    assert received["people"] == [
        {"email": "bob@fabrikam.com", "name": "Bob"},
        {"email": "cyd@fabrikam.com", "name": "Cyd"},
        {"email": "ann@fabrikam.com", "name": "Ann"},
    ]
    sent = by_id["outlook:<s1@mail.contoso.com>"]
    assert sent["kind"] == "email_sent"
    assert sent["people"] == [{"email": "ann@fabrikam.com", "name": "Ann"}]
    assert sent["automated"] is False

    for folder in (mailbox.inbox, mailbox.sent):
        first = folder.calls[0]
        assert first.arg("$filter") == f"receivedDateTime ge {_filter_date(first)}"
        assert set(first.arg("$select").split(",")) == {
            "subject",
            "from",
            "toRecipients",
            "ccRecipients",
            "receivedDateTime",
            "sentDateTime",
            "bodyPreview",
            "internetMessageId",
        }
    since = datetime.strptime(_filter_date(mailbox.inbox.calls[0]), "%Y-%m-%dT%H:%M:%SZ")
    expected = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=90)
    assert abs((since - expected).total_seconds()) < 120
    assert cursor["pending"] == []
    assert set(cursor["links"]) == {"inbox", "sentitems"}
    assert all("$deltatoken=" in link for link in cursor["links"].values())


def _filter_date(call) -> str:
    return call.arg("$filter").rpartition(" ")[2]


def test_inbox_pages_before_sent_items(mailbox, http, account):
    pages = []
    cursor = None
    while True:
        page = outlook.pull_activities(http, cursor, SETTINGS, account)
        pages.append([r["kind"] for r in page["activities"]])
        cursor = page["cursor"]
        if not page["more"]:
            break
    # 3 inbox messages at 2 a page, then the one sent message
    assert pages == [["email_received"] * 2, ["email_received"], ["email_sent"]]


def test_next_sync_brings_only_new_mail_per_folder(mailbox, http, account):
    _, cursor = sync(http, account)
    mailbox.inbox.put(message("i4", "dee@fabrikam.com", ["meganb@contoso.com"], ago(0)))
    mailbox.sent.put(message("s2", "meganb@contoso.com", ["dee@fabrikam.com"], ago(0)))
    mailbox.inbox.remove("i1")  # deleted by the user: ignored, the timeline keeps it

    records, cursor2 = sync(http, account, cursor)

    assert [(r["external_id"], r["kind"]) for r in records] == [
        ("outlook:<i4@mail.contoso.com>", "email_received"),
        ("outlook:<s2@mail.contoso.com>", "email_sent"),
    ]
    assert cursor2["pending"] == []
    for folder in (mailbox.inbox, mailbox.sent):
        full_rounds = [c for c in folder.calls if c.arg("$filter")]
        assert len(full_rounds) == 1

    assert sync(http, account, cursor2)[0] == []  # a re-run adds nothing


def test_expired_folder_token_restarts_that_folder_only(mailbox, http, account):
    _, cursor = sync(http, account)
    mailbox.sent.expire_tokens()
    mailbox.inbox.put(message("i5", "eve@fabrikam.com", ["meganb@contoso.com"], ago(0)))

    records, cursor2 = sync(http, account, cursor)

    ids = sorted(r["external_id"] for r in records)
    assert ids == ["outlook:<i5@mail.contoso.com>", "outlook:<s1@mail.contoso.com>"]
    assert len([c for c in mailbox.inbox.calls if c.arg("$filter")]) == 1
    assert len([c for c in mailbox.sent.calls if c.arg("$filter")]) == 2  # full again
    assert cursor2["pending"] == []


def test_interrupted_sync_resumes_in_the_folder_it_stopped_in(mailbox, http, account):
    page = outlook.pull_activities(http, None, SETTINGS, account)
    assert page["more"] and page["cursor"]["pending"] == ["inbox", "sentitems"]
    rest, _ = sync(http, account, page["cursor"])
    ids = [r["external_id"] for r in page["activities"] + rest]
    assert len(ids) == len(set(ids)) == 4


def test_message_without_internet_message_id_uses_the_graph_id(graph, http, account):
    graph.inbox.put(
        message("AAMkAD42", "ann@fabrikam.com", ["x@y.example"], ago(1), internet_id=None)
    )
    records, _ = sync(http, account)
    assert records[0]["external_id"] == "outlook:AAMkAD42"


@pytest.mark.parametrize(
    ("sender", "automated"),
    [
        ("no-reply@shop.example", True),
        ("noreply@github.com", True),
        ("DoNotReply@bank.example", True),
        ("mailer-daemon@mx.contoso.com", True),
        ("notifications@github.com", True),
        ("billing-noreply@cloud.example", True),
        ("ann@fabrikam.com", False),
        ("notification.design@fabrikam.com", True),
        ("noah@fabrikam.com", False),
        ("replies@fabrikam.com", False),
    ],
)
def test_no_reply_senders_are_marked_automated(graph, http, account, sender, automated):
    graph.inbox.put(message("m1", sender, ["meganb@contoso.com"], ago(1)))
    records, _ = sync(http, account)
    assert records[0]["automated"] is automated


def test_mail_days_zero_reads_the_whole_mailbox(mailbox, http, account):
    records, _ = sync(http, account, settings={"create_contacts": False, "mail_days": 0})
    assert "outlook:<old@mail.contoso.com>" in {r["external_id"] for r in records}
    assert mailbox.inbox.calls[0].arg("$filter") is None


def test_throttled_mail_request_waits_as_long_as_graph_asks(mailbox, http, account, waits):
    mailbox.sent.fail_next.append(
        (
            429,
            {"error": {"code": "ApplicationThrottled", "message": "Too many requests"}},
            {"Retry-After": "2"},
        )
    )
    records, _ = sync(http, account)
    assert len(records) == 4
    assert waits == [2.0]
