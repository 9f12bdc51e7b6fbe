"""In a real Chromium against `kontor run` (which runs the background worker itself):
import a file through the wizard, watch the progress bar reach the counts without
reloading, undo it; cancel a big import while it runs."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_contacts_browser import _log_in

pytestmark = pytest.mark.browser


def _csv(path, rows: int, prefix: str) -> str:
    lines = ["Prénom;Nom;Courriel;Société", "Bad;Row;not-an-email;X"]
    lines += [f"Zoé{i};Müller;{prefix}{i}@example.org;Acme" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="cp1252")
    return str(path)


def _through_the_wizard(page, server, path: str) -> None:
    page.goto(server.url + "/imports/new")
    page.set_input_files('input[type="file"]', path)
    page.get_by_role("button", name="Upload and continue").click()
    page.wait_for_url(re.compile(r"/imports/\d+/mapping"))
    page.locator("button[type=submit].primary").click()
    page.wait_for_url(re.compile(r"/imports/\d+/options"))
    page.fill('input[name="tags"]', "browser")
    page.locator("button[type=submit].primary").click()
    page.wait_for_url(re.compile(r"/imports/\d+/preview"))


def test_import_with_live_progress_then_undo(page, live_server, tmp_path):
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    _log_in(page, live_server)
    _through_the_wizard(page, live_server, _csv(tmp_path / "people.csv", 40, "wiz"))
    expect(page.locator("table")).to_contain_text("wiz0@example.org")
    expect(page.locator("table")).to_contain_text("not-an-email")
    page.get_by_role("button", name="Start import").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    page.evaluate("window.kontorMarker = 'no reload'")
    # htmx polls the progress card until the job is done, then shows the result.
    expect(page.locator("#job-progress")).to_have_attribute(
        "data-job-status", "done", timeout=30_000
    )
    expect(page.locator('[data-count="created"]')).to_have_text("40")
    expect(page.locator('[data-count="failed"]')).to_have_text("1")
    assert page.evaluate("window.kontorMarker") == "no reload"
    assert page.locator("a[download]").count() == 1  # the refused rows as CSV

    page.get_by_role("button", name="Undo import").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    expect(page.locator("#job-progress")).to_have_attribute(
        "data-job-status", "done", timeout=30_000
    )
    page.goto(live_server.url + "/contacts/?q=wiz0")
    expect(page.locator("#total")).to_have_text("0 contacts")
    assert not page.console_errors, page.console_errors


def test_cancel_a_running_import(page, live_server, tmp_path):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    _through_the_wizard(page, live_server, _csv(tmp_path / "big.csv", 200_000, "big"))
    page.get_by_role("button", name="Start import").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    expect(page.locator("#job-progress")).to_have_attribute(
        "data-job-status", "running", timeout=30_000
    )
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-progress")).to_have_attribute(
        "data-job-status", "cancelled", timeout=60_000
    )
    created = int(page.locator('[data-count="created"]').inner_text())
    assert 0 < created < 200_000  # whole batches before the cancel were kept
    assert page.locator("button", has_text="Undo import").count() == 1
    assert not page.console_errors, page.console_errors
