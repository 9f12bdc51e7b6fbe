"""In a real Chromium: log in, search as you type (the list narrows without a page
load), edit a contact inline, reload, and the change is still there."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def _log_in(page, server) -> None:
    page.goto(server.url + "/login")
    page.fill('input[name="email"]', server.email)
    page.fill('input[name="password"]', server.password)
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r"/contacts/"))


def test_search_as_you_type_then_edit_inline_and_reload(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    rows = page.locator("#results td.name a")
    expect(rows).to_have_count(8)
    expect(page.locator("#total")).to_have_text("8 contacts")

    # Typing narrows the list in place: the page is never reloaded.
    page.evaluate("window.kontorMarker = 'still here'")
    page.locator("#contact-search").press_sequentially("zoe", delay=60)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text("Zoë Ørsted")
    expect(page).to_have_url(re.compile(r"[?&]q=zoe"))
    assert page.evaluate("window.kontorMarker") == "still here"
    page.locator("#contact-search").fill("acme")
    expect(rows).to_have_count(3)
    expect(page.locator("#total")).to_have_text("3 contacts")
    assert page.evaluate("window.kontorMarker") == "still here"

    # Inline edit of the Basic group, saved without leaving the page.
    page.locator("#results td.name a", has_text="Adam Smith").click()
    page.wait_for_url(re.compile(r"/contacts/\d+$"))
    page.evaluate("window.kontorMarker = 'contact page'")
    page.locator("#group-basic a.edit-group").click()
    first_name = page.locator('#group-basic input[name="first_name"]')
    expect(first_name).to_have_value("Adam")
    first_name.fill("Adrien")
    page.locator('#group-basic input[name="tags"]').fill("vip, <b>bold</b>")
    page.locator("#group-basic button[type=submit]").click()
    expect(page.locator("#group-basic form")).to_have_count(0)
    expect(page.locator("#group-basic")).to_contain_text("Adrien")
    expect(page.locator("#contact-header h1")).to_have_text("Adrien Smith")
    expect(page.locator("#timeline")).to_contain_text("Adrien")
    assert page.evaluate("window.kontorMarker") == "contact page"

    # A field error is shown at the field and nothing is saved.
    page.locator("#group-basic a.edit-group").click()
    page.locator('#group-basic input[name="email"]').fill("not an email")
    page.locator("#group-basic button[type=submit]").click()
    expect(page.locator('#group-basic [data-field="email"] .field-error')).to_be_visible()
    page.locator("#group-basic a", has_text="Cancel").click()
    expect(page.locator("#group-basic form")).to_have_count(0)

    page.reload()
    expect(page.locator("#contact-header h1")).to_have_text("Adrien Smith")
    expect(page.locator("#contact-header")).to_contain_text("adam@acme.com")
    expect(page.locator("#group-basic")).to_contain_text("<b>bold</b>")  # shown as text
    assert not [e for e in page.console_errors if "Content Security Policy" in e], (
        page.console_errors
    )


def test_bulk_tag_every_row_on_the_page(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    page.goto(live_server.url + "/contacts/?q=globex")
    rows = page.locator("#results td.name a")
    expect(rows).to_have_count(2)
    page.locator("#results .select-page").check()
    expect(page.locator("#bulk-form .selected-count")).to_have_text("2 selected")
    page.locator("#bulk-form .bulk-action").select_option("tag")
    expect(page.locator('#bulk-form input[name="bulk_tag"]')).to_be_visible()
    expect(page.locator('#bulk-form select[name="bulk_status"]')).to_be_hidden()
    page.locator('#bulk-form input[name="bulk_tag"]').fill("partner")
    page.locator("#bulk-form button[type=submit]").click()
    expect(page.locator("#flash")).to_contain_text("Tagged 2 contacts.")
    expect(page.locator("#results td.col-tags", has_text="partner")).to_have_count(2)

    # Delete asks first, saying how many; Cancel closes the question.
    page.locator("#results .select-page").check()
    page.locator("#bulk-form .bulk-action").select_option("delete")
    page.locator("#bulk-form button[type=submit]").click()
    expect(page.locator("#bulk-confirm")).to_contain_text("Delete 2 contacts?")
    page.locator("#bulk-confirm a", has_text="Cancel").click()
    expect(page.locator("#bulk-confirm")).to_be_empty()
    expect(rows).to_have_count(2)
