"""pull_activities against a fake Gmail: first listing, history, fallbacks, automation."""

from __future__ import annotations

import pytest

import plugins.gmail as gmail

from .conftest import drain, message
from .google_fake import GMAIL, ME

LIST = GMAIL + "gmail/v1/users/me/messages"
HISTORY = GMAIL + "gmail/v1/users/me/history"


def gets(google) -> list[str]:
    """The ids of the messages the plugin read, in order."""
    return [c.path.rsplit("/", 1)[-1] for c in google.fake.calls if c.path.startswith(LIST + "/")]


def pull(http, settings, account, cursor=None):
    return drain(
        gmail.pull_activities, http=http, settings=settings, account=account, cursor=cursor
    )


def test_first_sync_lists_recent_mail_page_by_page(http, google, settings, account):
    google.page_cap = 2
    recent = [message(sender=f"p{i}@example.org", days_ago=i + 0.5) for i in range(5)]
    old = [message(sender="old@example.org", days_ago=d) for d in (95, 120, 200)]
    for m in recent + old:
        google.add_message(m)

    records, cursor, pages = pull(http, settings, account)

    assert [r["external_id"] for r in records] == [f"gmail:{m['id']}" for m in recent]
    assert pages == 3
    listing = google.fake.calls_to(LIST)
    assert len(listing) == 3 and all("q" not in c.query for c in listing)
    assert [c.arg("pageToken") is None for c in listing] == [True, False, False]
    # The listing stops at the first message older than mail_days: no fourth page, and
    # only one old message read.
    assert gets(google) == [m["id"] for m in recent] + [old[0]["id"]]
    get = next(c for c in google.fake.calls if c.path == f"{LIST}/{recent[0]['id']}")
    assert get.arg("format") == "metadata"
    assert set(get.query["metadataHeaders"]) == {
        "From",
        "To",
        "Cc",
        "Subject",
        "Date",
        "List-Unsubscribe",
        "List-Id",
        "Precedence",
        "Auto-Submitted",
    }
    assert cursor["history_id"] == str(google.history_id)


def test_mail_days_sets_how_far_back_the_first_sync_reads(http, google, settings, account):
    for days in (2, 10, 40):
        google.add_message(message(sender="x@example.org", days_ago=days))

    records, _, _ = pull(http, {**settings, "mail_days": 14}, account)

    assert len(records) == 2


def test_sent_and_received_mail(http, google, settings, account):
    received = message(
        sender='"Lee, Ann" <Ann.Lee@Acme.example>',
        to=f"Me <{ME}>, bob@beta.example",
        cc="carl@gamma.example",
        subject="=?utf-8?q?Caf=C3=A9_tomorrow?=",
        snippet="Shall we meet at 10?",
        days_ago=2,
    )
    sent = message(
        sender=f"Me <{ME}>",
        to="Ann Lee <ann.lee@acme.example>",
        subject="Re: Café tomorrow",
        labels=("SENT",),
        days_ago=1,
    )
    draft = message(sender=ME, to="ann.lee@acme.example", labels=("DRAFT",), days_ago=0.5)
    for m in (received, sent, draft):
        google.add_message(m)

    records, _, _ = pull(http, settings, account)
    by_id = {r["external_id"]: r for r in records}

    assert set(by_id) == {f"gmail:{received['id']}", f"gmail:{sent['id']}"}  # no draft
    got = by_id[f"gmail:{received['id']}"]
    assert got["kind"] == "email_received"
    assert got["subject"] == "Café tomorrow"
    assert got["body"] == "Shall we meet at 10?"
    assert got["people"] == [
        {"email": "ann.lee@acme.example", "name": "Lee, Ann"},
        {"email": "bob@beta.example", "name": None},
        {"email": "carl@gamma.example", "name": None},
    ]
    assert got["occurred_at"].endswith("Z")
    assert got["automated"] is False
    out = by_id[f"gmail:{sent['id']}"]
    assert out["kind"] == "email_sent"
    assert out["people"] == [{"email": "ann.lee@acme.example", "name": "Ann Lee"}]


@pytest.mark.parametrize(
    ("sender", "headers", "automated"),
    [
        ("ann@acme.example", {}, False),
        ("ann@acme.example", {"List-Unsubscribe": "<mailto:u@acme.example>"}, True),
        ("ann@acme.example", {"List-Id": "Team <team.acme.example>"}, True),
        ("ann@acme.example", {"Precedence": "bulk"}, True),
        ("ann@acme.example", {"Precedence": "first-class"}, False),
        ("ann@acme.example", {"Auto-Submitted": "auto-replied"}, True),
        ("ann@acme.example", {"Auto-Submitted": "no"}, False),
        ("noreply@shop.example", {}, True),
        ("billing-no-reply@shop.example", {}, True),
        ("DoNotReply@bank.example", {}, True),
        ("MAILER-DAEMON@mx.example", {}, True),
        ("notifications@github.example", {}, True),
        ("noreen@acme.example", {}, False),
    ],
)
def test_automated_mail_is_flagged(http, google, settings, account, sender, headers, automated):
    google.add_message(message(sender=sender, headers=headers))

    records, _, _ = pull(http, settings, account)

    assert records[0]["automated"] is automated


def test_later_syncs_read_the_history(http, google, settings, account):
    google.add_message(message(sender="ann@acme.example", days_ago=3))
    _, cursor, _ = pull(http, settings, account)
    listed = len(google.fake.calls_to(LIST))
    new = [message(sender="bob@beta.example", days_ago=0), message(sender="c@x.example")]
    draft = message(sender=ME, to="bob@beta.example", labels=("DRAFT",), days_ago=0)
    for m in (new[0], draft, new[1]):
        google.add_message(m)

    records, following, _ = pull(http, settings, account, cursor)

    assert [r["external_id"] for r in records] == [f"gmail:{m['id']}" for m in new]
    assert len(google.fake.calls_to(LIST)) == listed  # no new listing
    call = google.fake.calls_to(HISTORY)[0]
    assert call.arg("startHistoryId") == cursor["history_id"]
    assert call.query["historyTypes"] == ["messageAdded"]
    assert draft["id"] not in gets(google)  # a draft costs no request
    assert following["history_id"] == str(google.history_id)

    nothing, same, _ = pull(http, settings, account, following)
    assert nothing == [] and same["history_id"] == following["history_id"]


def test_history_pages(http, google, settings, account):
    _, cursor, _ = pull(http, settings, account)
    google.page_cap = 2
    new = [message(sender=f"p{i}@example.org", days_ago=0) for i in range(5)]
    for m in new:
        google.add_message(m)

    records, _, pages = pull(http, settings, account, cursor)

    assert [r["external_id"] for r in records] == [f"gmail:{m['id']}" for m in new]
    assert pages == 3
    calls = google.fake.calls_to(HISTORY)
    assert all(c.arg("startHistoryId") == cursor["history_id"] for c in calls)
    assert [c.arg("pageToken") is None for c in calls] == [True, False, False]


def test_expired_history_falls_back_to_listing_since_the_last_mail(http, google, settings, account):
    older = message(sender="a@example.org", days_ago=10)
    last = message(sender="b@example.org", days_ago=5)
    google.add_message(older)
    google.add_message(last)
    _, cursor, _ = pull(http, settings, account)
    google.expire_history()
    new = message(sender="c@example.org", days_ago=0)
    google.add_message(new)
    read_before = len(gets(google))

    records, following, _ = pull(http, settings, account, cursor)

    assert google.fake.calls_to(HISTORY)[0].arg("startHistoryId") == cursor["history_id"]
    ids = [r["external_id"] for r in records]
    assert ids == [f"gmail:{new['id']}", f"gmail:{last['id']}"]  # last: a harmless repeat
    # The fallback reads back to the newest mail already seen, not mail_days again.
    assert gets(google)[read_before:] == [new["id"], last["id"], older["id"]]
    assert following["history_id"] == str(google.history_id)
    again, _, _ = pull(http, settings, account, following)
    assert again == []


def test_a_message_deleted_after_listing_is_skipped(http, google, settings, account):
    keep = message(sender="a@example.org", days_ago=1)
    gone = message(sender="b@example.org", days_ago=2)
    google.add_message(keep)
    google.add_message(gone)
    real = google.list_messages

    def list_then_delete(call):
        answer = real(call)
        google.delete_message(gone["id"])
        return answer

    google.fake.route("GET", LIST, google._serve("gmail.v1", list_then_delete))

    records, _, _ = pull(http, settings, account)

    assert [r["external_id"] for r in records] == [f"gmail:{keep['id']}"]


def test_spam_and_trash_stay_out(http, google, settings, account):
    google.add_message(message(sender="spam@bad.example", labels=("SPAM",)))
    google.add_message(message(sender="ann@acme.example", labels=("TRASH",)))
    google.add_message(message(sender="bob@beta.example"))
    _, cursor, _ = pull(http, settings, account)
    google.add_message(message(sender="spam@bad.example", labels=("SPAM",), days_ago=0))

    first, _, _ = pull(http, settings, account)
    later, _, _ = pull(http, settings, account, cursor)

    assert [p["email"] for r in first for p in r["people"]] == ["bob@beta.example"]
    assert later == []
