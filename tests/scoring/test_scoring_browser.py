"""In a real Chromium against `kontor run` (its in-process worker runs the jobs): an admin
adds a rule through the form, whose operators follow the chosen field without a page
load; the worker recomputes the scores; a contact page explains its score."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import chromium_ready, live_server, page  # noqa: F401
from tests.browser.test_contacts_browser import _log_in

pytestmark = pytest.mark.browser


def test_admin_adds_a_rule_and_the_contact_page_explains_the_score(page, live_server):  # noqa: F811
    from playwright.sync_api import expect

    _log_in(page, live_server)
    page.locator("nav.mainnav a", has_text="Settings").click()
    page.locator("#scoring-link").click()
    page.wait_for_url(re.compile(r"/scoring/$"))
    page.locator("#add-field-rule").click()
    page.fill('input[name="name"]', "Works at Acme")
    page.fill('input[name="points"]', "40")
    operators = page.locator('select[name="n-0-op"]')
    expect(operators.locator('option[value="contains"]')).to_have_count(1)  # email: text
    page.select_option('select[name="n-0-field"]', "company")
    # The form is rebuilt by htmx: a company is chosen from a list, with "is" / "is not".
    expect(operators.locator('option[value="contains"]')).to_have_count(0)
    values = page.locator('select[name="n-0-value"]')
    expect(values.locator("option", has_text="Acme")).to_have_count(1)
    values.select_option(label="Acme")
    page.locator("#save-rule").click()
    page.wait_for_url(re.compile(r"/scoring/$"))
    expect(page.locator("#rules")).to_contain_text("Works at Acme")
    expect(page.locator("#rules")).to_contain_text("Company is Acme")
    expect(page.locator("#recompute")).to_contain_text("Done", timeout=15_000)

    page.goto(live_server.url + "/contacts/?q=zoe")
    page.locator("#results td.name a").first.click()
    card = page.locator("#score")
    expect(card).to_contain_text("Lead score 40")
    expect(card.locator("li")).to_have_text(re.compile(r"\+40\s+Works at Acme"))
    page.goto(live_server.url + "/contacts/?q=carl")
    page.locator("#results td.name a").first.click()
    expect(page.locator("#score")).to_contain_text("Lead score 0")
    expect(page.locator("#score")).to_contain_text("No rule gives this contact any points")
    assert page.console_errors == []
