"""In a real Chromium: build a segment (a condition, another, a group, switch to ANY),
watch the live count follow without a page load, save it, open it as a contact list.
The server is seeded with tests/browser/seed_contacts.py (eight contacts)."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.test_contacts_browser import _log_in

pytestmark = pytest.mark.browser


def _watch_builder(page) -> None:
    """Count the builder's redraws (htmx settles #builder, its new inputs wired up)."""
    page.evaluate(
        """() => {
          window.builderRedraws = 0;
          document.body.addEventListener("htmx:afterSettle", (event) => {
            if (event.detail.target && event.detail.target.id === "builder") {
              window.builderRedraws += 1;
            }
          });
        }"""
    )


def _redraw(page, action) -> None:
    """Do something that redraws the builder's rows, and wait until they are redrawn."""
    before = page.evaluate("window.builderRedraws")
    action()
    deadline = time.monotonic() + 10
    while page.evaluate("window.builderRedraws") <= before:  # no eval in the page (CSP)
        assert time.monotonic() < deadline, "the builder was not redrawn"
        page.wait_for_timeout(20)


def test_build_a_segment_with_a_live_count_then_open_it(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    page.locator("nav.mainnav a", has_text="Segments").click()
    page.wait_for_url(re.compile(r"/segments/$"))
    page.locator("a", has_text="New segment").click()
    page.wait_for_url(re.compile(r"/segments/new$"))
    page.evaluate("window.kontorMarker = 'still here'")
    _watch_builder(page)
    count = page.locator("#live-count")
    # The first condition (email contains …) needs a value: the count says where.
    expect(count).to_contain_text("all[0].value")
    expect(page.locator('[data-row="n-0"]')).to_have_class(re.compile("seg-live-error"))

    # email contains "acme": Zoë, Adam, Frank.
    page.locator('input[name="n-0-value"]').press_sequentially("acme", delay=30)
    expect(count).to_have_text(re.compile(r"^\s*3 contacts\s*$"))
    expect(page.locator('[data-row="n-0"]')).not_to_have_class(re.compile("seg-live-error"))

    # Add a condition: first name contains "a" (the field change redraws the row).
    _redraw(page, page.locator('[data-row="n"] > .seg-add .seg-add-condition').click)
    expect(page.locator('[data-row="n-1"]')).to_be_visible()
    _redraw(page, lambda: page.locator('select[name="n-1-field"]').select_option("first_name"))
    expect(page.locator('select[name="n-1-field"]')).to_have_value("first_name")
    page.locator('input[name="n-1-value"]').fill("a")
    expect(count).to_have_text(re.compile(r"^\s*2 contacts\s*$"))  # Adam, Frank

    # Add a group (ANY) and fill its condition: email contains "globex".
    _redraw(page, page.locator('[data-row="n"] > .seg-add .seg-add-group').click)
    group = page.locator('[data-row="n-2"]')
    expect(group).to_be_visible()
    expect(page.locator('select[name="n-2-kind"]')).to_have_value("any")
    expect(page.locator('input[name="n-1-value"]')).to_have_value("a")  # kept
    page.locator('input[name="n-2-0-value"]').fill("globex")
    expect(count).to_have_text(re.compile(r"^\s*0 contacts\s*$"))

    # Switch the top group to ANY: acme, or a first name with "a", or globex.
    page.locator('select[name="n-kind"]').select_option("any")
    expect(count).to_have_text(re.compile(r"^\s*7 contacts\s*$"))  # all but Ève
    assert page.evaluate("window.kontorMarker") == "still here"  # never reloaded

    page.locator('input[name="name"]').fill("Acme, A or Globex")
    page.locator("#save-segment").click()
    page.wait_for_url(re.compile(r"/segments/\d+$"))
    expect(page.locator("#flash")).to_contain_text('Segment "Acme, A or Globex" saved.')
    expect(page.locator('select[name="n-kind"]')).to_have_value("any")
    expect(count).to_have_text(re.compile(r"^\s*7 contacts\s*$"))

    page.locator("#open-contacts").click()
    page.wait_for_url(re.compile(r"/contacts/\?segment=\d+$"))
    expect(page.locator("#segment-banner")).to_contain_text("Acme, A or Globex")
    expect(page.locator("#results td.name a")).to_have_count(7)
    expect(page.locator("#total")).to_have_text("7 contacts")

    page.goto(live_server.url + "/segments/")
    expect(page.locator(".seg-row-count")).to_have_text(re.compile(r"^\s*7\s*$"))
    assert not page.console_errors, page.console_errors
