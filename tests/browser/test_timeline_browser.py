"""In a real Chromium: log a note, a call and a meeting (attendee picked by searching) on a
contact, filter the timeline by kind (one, then two), reload and find the same filter,
and scroll to load older entries. The server is seeded with tests/browser/seed_contacts.py;
40 more activities are sent through the API with a token made by the CLI."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

import pytest

from app.timeutil import utcnow
from tests.browser.conftest import _kontor
from tests.browser.test_contacts_browser import _log_in

pytestmark = pytest.mark.browser


def _token(live_server) -> str:
    env = {
        **os.environ,
        "KONTOR_INSTANCE": str(live_server.instance),
        "SECRET_KEY": "browser-test-key",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "KONTOR_CONTACT_LIMIT"):
        env.pop(name, None)
    return _kontor("tokens", "create", live_server.email, "--name", "timeline", env=env).strip()


def _open_contact(page, live_server, query: str, name: str) -> int:
    page.goto(live_server.url + f"/contacts/?q={query}")
    page.locator("#results td.name a", has_text=name).click()
    page.wait_for_url(re.compile(r"/contacts/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def test_log_filter_reload_and_scroll_a_timeline(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    cid = _open_contact(page, live_server, "zoe", "Zoë Ørsted")
    page.evaluate("window.kontorMarker = 'still here'")
    entries = page.locator("#timeline-items > li.activity")

    # A note, logged inline.
    page.locator("#log-body").fill("Prefers short emails")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline-log .flash-success")).to_have_text("Note added.")
    expect(entries.first).to_contain_text("Prefers short emails")
    expect(page.locator("#log-body")).to_have_value("")

    # A call: its tab, its form.
    page.locator(".log-tab", has_text="Call").click()
    page.locator("#log-outcome").select_option("connected")
    page.locator("#log-duration").fill("12")
    page.locator("#log-body").fill("Discussed pricing")
    page.get_by_role("button", name="Log call").click()
    expect(page.locator("#timeline-log .flash-success")).to_have_text("Call logged.")
    expect(entries.first).to_contain_text("12 minutes")
    # The contact was just contacted: its System group says so without a reload.
    expect(page.locator('#group-system [data-field="last_contacted_at"]')).not_to_be_empty()

    # A meeting with an attendee found by typing part of a name.
    page.locator(".log-tab", has_text="Meeting").click()
    page.locator("#log-subject").fill("Kick-off")
    page.locator("#log-occurred_at").fill("2024-05-02T10:30")
    page.locator("#log-attendee_emails").press_sequentially("adam", delay=40)
    option = page.locator(".picker-option", has_text="Adam Smith")
    expect(option).to_be_visible()
    option.click()
    expect(page.locator('.attendee-picker input[name="attendees"]:checked')).to_have_count(1)
    expect(page.locator("#log-attendee_emails")).to_have_value("")
    page.get_by_role("button", name="Log meeting").click()
    expect(page.locator("#timeline-log .flash-success")).to_have_text("Meeting logged.")
    meeting = page.locator("#timeline-items > li.activity-meeting")
    expect(meeting).to_contain_text("Kick-off")
    expect(meeting.locator(".attendees a")).to_have_text("Adam Smith")
    expect(entries).to_have_count(3)

    # Filter by "Calls": only the call; the address bar keeps the filter.
    page.locator(".kind-chip", has_text="Calls").click()
    expect(entries).to_have_count(1)
    expect(entries.first).to_have_class(re.compile(r"\bactivity-call\b"))
    expect(page).to_have_url(re.compile(rf"/contacts/{cid}\?kinds=call$"))
    # Add "Notes": both kinds, newest first.
    page.locator(".kind-chip", has_text="Notes").click()
    expect(entries).to_have_count(2)
    expect(page).to_have_url(re.compile(rf"/contacts/{cid}\?kinds=note,call$"))
    assert page.evaluate("window.kontorMarker") == "still here"  # never reloaded

    # Reload: the same filter, the same entries.
    page.reload()
    expect(page.locator('.kind-chip input[value="call"]')).to_be_checked()
    expect(page.locator('.kind-chip input[value="note"]')).to_be_checked()
    expect(page.locator('.kind-chip input[value="meeting"]')).not_to_be_checked()
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_have_class(re.compile(r"\bactivity-call\b"))
    expect(entries.nth(1)).to_have_class(re.compile(r"\bactivity-note\b"))

    # 40 older page views arrive through the API: 43 entries, 25 shown at first.
    token = _token(live_server)
    start = datetime(2023, 1, 1, 8, 0)
    batch = {
        "activities": [
            {"contact_id": cid, "kind": "custom_event", "name": "page_view",
             "value": i, "occurred_at": (start + timedelta(hours=i)).isoformat() + "Z"}
            for i in range(40)
        ]
    }  # fmt: skip
    sent = page.request.post(
        live_server.url + "/api/v1/activities/batch",
        data=batch,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status == 200, sent.text()
    page.goto(live_server.url + f"/contacts/{cid}")
    expect(entries).to_have_count(25)
    page.evaluate("window.kontorMarker = 'still here'")
    # Scrolling to the end loads the next page, then the last one.
    page.locator("#timeline-items > li.timeline-more").scroll_into_view_if_needed()
    expect(entries).to_have_count(43)
    expect(page.locator("#timeline-items > li.timeline-more")).to_have_count(0)
    expect(entries.last).to_contain_text("page_view")
    ids = page.locator("#timeline-items > li.activity").evaluate_all(
        "(items) => items.map((item) => item.id)"
    )
    assert len(set(ids)) == 43
    assert page.evaluate("window.kontorMarker") == "still here"

    # The filter applies to the pages loaded by scrolling too: events only.
    page.locator(".kind-chip", has_text="Events").click()
    expect(entries).to_have_count(25)
    page.locator("#timeline-items > li.timeline-more").scroll_into_view_if_needed()
    expect(entries).to_have_count(40)
    expect(page).to_have_url(re.compile(rf"/contacts/{cid}\?kinds=custom_event$"))
    assert not page.console_errors, page.console_errors


def test_edit_and_delete_inline_then_finish_a_follow_up(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    cid = _open_contact(page, live_server, "carl", "Carl Adams")
    entries = page.locator("#timeline-items > li.activity")
    page.locator("#log-body").fill("First draft")
    page.get_by_role("button", name="Add note").click()
    expect(entries.first).to_contain_text("First draft")

    # Edit in place: the entry becomes its form, then the saved entry.
    entries.first.get_by_role("link", name="Edit").click()
    form = page.locator("#timeline-items > li.editing")
    expect(form).to_be_visible()
    form.locator("textarea[name=body]").fill("Final text")
    form.get_by_role("button", name="Save").click()
    expect(entries.first).to_contain_text("Final text")
    expect(entries.first).to_contain_text("edited")

    # A follow-up due yesterday: overdue on "My follow-ups", done from there.
    page.locator(".log-tab", has_text="Follow-up").click()
    page.locator("#log-subject").fill("Send the contract")
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    page.locator("#log-due").fill(yesterday)
    page.get_by_role("button", name="Add follow-up").click()
    expect(page.locator("#timeline-log .flash-success")).to_have_text("Follow-up added.")
    page.locator(".usermenu a", has_text="My follow-ups").click()
    page.wait_for_url(re.compile(r"/timeline/follow-ups$"))
    row = page.locator("#follow-ups-overdue li.follow-up", has_text="Send the contract")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Mark done").click()
    expect(page.locator("li.follow-up.done", has_text="Send the contract")).to_be_visible()
    page.reload()
    expect(page.locator("li.follow-up", has_text="Send the contract")).to_have_count(0)
    page.get_by_role("link", name="Show done").click()
    expect(page.locator("#follow-ups-done li", has_text="Send the contract")).to_be_visible()

    # Back on the contact: delete the note (confirmed), it leaves the list.
    page.goto(live_server.url + f"/contacts/{cid}")
    note = page.locator("#timeline-items > li.activity-note")
    expect(note).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    note.get_by_role("link", name="Delete").click()
    expect(note).to_have_count(0)
    assert not page.console_errors, page.console_errors
