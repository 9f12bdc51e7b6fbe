"""In a real Chromium: drag a deal from Lead to Proposal with the mouse and find it there
after a reload with both columns' totals updated; move a card with the keyboard (its
stage menu, its move buttons); and watch a refused move (the deal was deleted, or edited,
through the API meanwhile) put the card back with a message.

Each test gives its deals their own expected close date and filters the board on it, so
the totals it reads are its own (and the moves answer totals of the filtered board).
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.browser.conftest import ADMIN_EMAIL, _kontor
from tests.browser.test_contacts_browser import _log_in

pytestmark = pytest.mark.browser


def _ensure_stages(page, server) -> None:
    """An instance made by `kontor db upgrade` has no stages: create the default ones."""
    page.goto(server.url + "/pipeline/stages")
    button = page.get_by_role("button", name=re.compile("Create Lead, Qualified"))
    if button.count():
        button.click()
        page.wait_for_url(re.compile(r"/pipeline/stages$"))


def _new_deal(page, server, title: str, value: str, stage: str, close: str) -> None:
    page.goto(server.url + "/pipeline/deals/new")
    page.fill('input[name="title"]', title)
    page.fill('input[name="value"]', value)
    page.fill('input[name="currency"]', "EUR")
    page.select_option('select[name="stage"]', label=stage)
    page.fill('input[name="expected_close_date"]', close)
    page.get_by_role("button", name="Create deal").click()
    page.wait_for_url(re.compile(r"/pipeline/deals/\d+$"))


def _column(page, stage: str):
    """The card list of the column named `stage`."""
    section = page.locator("section.board-column", has=page.locator("h2", has_text=stage))
    return section.locator("ol.deal-list")


def _totals(page, stage: str):
    section = page.locator("section.board-column", has=page.locator("h2", has_text=stage))
    return section.locator(".column-totals")


def _card(page, title: str):
    return page.locator("li.deal-card", has=page.locator("a.deal-title", has_text=title))


def _drag(page, card, target) -> None:
    """Press on the card's handle, move over the target in small steps, release.

    hover() first waits until the card stands still: a card just put back may still be
    sliding (SortableJS animates a drop), and a press on its old place would miss it.
    """
    handle = card.locator(".deal-handle")
    handle.hover()
    target.hover(position={"x": 1, "y": 1}, trial=True)
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 20, box["y"] + 20, steps=5)
    goal = target.bounding_box()
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] * 0.75, steps=25)
    page.mouse.up()


def _api(server, method: str, path: str, body: dict | None = None) -> int:
    env_token = getattr(server, "_token", None)
    if env_token is None:
        import os

        env = {**os.environ, "KONTOR_INSTANCE": str(server.instance)}
        for name in ("DATABASE_URL", "REDIS_URL"):
            env.pop(name, None)
        env_token = _kontor("tokens", "create", ADMIN_EMAIL, env=env).strip().splitlines()[-1]
        server._token = env_token
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {env_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return response.status


def _deal_id(page, title: str) -> int:
    return int(_card(page, title).get_attribute("data-id"))


def test_drag_a_deal_from_lead_to_proposal(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    _ensure_stages(page, live_server)
    close = "2031-01-10"
    _new_deal(page, live_server, "Acme renewal", "1000", "Lead", close)
    _new_deal(page, live_server, "Globex pilot", "500", "Proposal", close)
    page.goto(f"{live_server.url}/pipeline/?close_from={close}&close_to={close}")
    page.evaluate("window.kontorMarker = 'still here'")
    expect(_totals(page, "Lead")).to_have_text(re.compile(r"1 deal\s+€1,000.00"))
    expect(_totals(page, "Proposal")).to_have_text(re.compile(r"1 deal\s+€500.00"))

    _drag(page, _card(page, "Acme renewal"), _card(page, "Globex pilot"))
    expect(_column(page, "Proposal").locator("li.deal-card")).to_have_count(2)
    expect(page.locator("#flash")).to_contain_text("“Acme renewal” moved to Proposal.")
    # The headers follow without a page load.
    expect(_totals(page, "Lead")).to_have_text(re.compile(r"^\s*0 deals\s*$"))
    expect(_totals(page, "Proposal")).to_have_text(re.compile(r"2 deals\s+€1,500.00"))
    assert page.evaluate("window.kontorMarker") == "still here"

    page.reload()
    expect(_column(page, "Proposal").locator("a.deal-title")).to_have_text(
        ["Globex pilot", "Acme renewal"]
    )
    expect(_column(page, "Lead").locator("li.deal-card")).to_have_count(0)
    expect(_totals(page, "Lead")).to_have_text(re.compile(r"^\s*0 deals\s*$"))
    expect(_totals(page, "Proposal")).to_have_text(re.compile(r"2 deals\s+€1,500.00"))
    assert not page.console_errors, page.console_errors


def test_move_cards_with_the_keyboard(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    _ensure_stages(page, live_server)
    close = "2031-02-20"
    _new_deal(page, live_server, "Initech seats", "300", "Qualified", close)
    _new_deal(page, live_server, "Umbrella audit", "200", "Negotiation", close)
    page.goto(f"{live_server.url}/pipeline/?close_from={close}&close_to={close}")

    menu = _card(page, "Initech seats").locator("select.deal-stage")
    menu.focus()
    menu.select_option(label="Negotiation")
    expect(page.locator("#flash")).to_contain_text("“Initech seats” moved to Negotiation.")
    expect(_column(page, "Negotiation").locator("a.deal-title")).to_have_text(
        ["Initech seats", "Umbrella audit"]
    )
    expect(_totals(page, "Negotiation")).to_have_text(re.compile(r"2 deals\s+€500.00"))
    expect(_totals(page, "Qualified")).to_have_text(re.compile(r"^\s*0 deals\s*$"))
    # Keyboard again: tab to "move down" and press Enter; the focus stays on the card.
    down = _card(page, "Initech seats").locator("button.deal-down")
    down.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("“Initech seats” moved within Negotiation.")
    expect(_column(page, "Negotiation").locator("a.deal-title")).to_have_text(
        ["Umbrella audit", "Initech seats"]
    )
    expect(_card(page, "Initech seats")).not_to_have_class(re.compile("is-saving"))
    focused = page.evaluate("document.activeElement.closest('li.deal-card').id")
    assert focused == f"deal-{_deal_id(page, 'Initech seats')}"

    page.reload()
    expect(_column(page, "Negotiation").locator("a.deal-title")).to_have_text(
        ["Umbrella audit", "Initech seats"]
    )
    assert not page.console_errors, page.console_errors


def test_a_refused_move_puts_the_card_back_with_a_message(page, live_server):
    from playwright.sync_api import expect

    _log_in(page, live_server)
    _ensure_stages(page, live_server)
    close = "2031-03-30"
    _new_deal(page, live_server, "Hooli deal", "700", "Lead", close)
    _new_deal(page, live_server, "Vandelay deal", "900", "Lead", close)
    _new_deal(page, live_server, "Stark deal", "100", "Proposal", close)
    page.goto(f"{live_server.url}/pipeline/?close_from={close}&close_to={close}")
    lead_titles = ["Vandelay deal", "Hooli deal"]
    expect(_column(page, "Lead").locator("a.deal-title")).to_have_text(lead_titles)

    # Deleted through the API meanwhile: the drop is refused and the card comes back.
    assert _api(live_server, "DELETE", f"/api/v1/deals/{_deal_id(page, 'Hooli deal')}") == 204
    _drag(page, _card(page, "Hooli deal"), _card(page, "Stark deal"))
    expect(page.locator("#flash")).to_contain_text("This deal was deleted meanwhile")
    expect(_column(page, "Lead").locator("a.deal-title")).to_have_text(lead_titles)
    expect(_column(page, "Proposal").locator("a.deal-title")).to_have_text(["Stark deal"])
    expect(_totals(page, "Lead")).to_have_text(re.compile(r"1 deal\s+€900.00"))  # fresh totals

    # Edited through the API meanwhile: a stale version, refused; the card comes back.
    vandelay = _deal_id(page, "Vandelay deal")
    assert _api(live_server, "PATCH", f"/api/v1/deals/{vandelay}", {"value": 950}) == 200
    _drag(page, _card(page, "Vandelay deal"), _card(page, "Stark deal"))
    expect(page.locator("#flash")).to_contain_text("Someone else changed “Vandelay deal”")
    expect(_column(page, "Lead").locator("a.deal-title")).to_have_text(lead_titles)
    expect(_card(page, "Vandelay deal")).to_contain_text("€950.00")  # the card is fresh
    # No answer (the network fails), then a server error: back, with the board's message.
    page.route("**/move", lambda route: route.abort())
    _drag(page, _card(page, "Vandelay deal"), _card(page, "Stark deal"))
    expect(page.locator("#flash")).to_contain_text("The move could not be saved")
    expect(_column(page, "Lead").locator("a.deal-title")).to_have_text(lead_titles)
    page.unroute("**/move")
    page.evaluate("document.getElementById('flash').replaceChildren()")
    page.route("**/move", lambda route: route.fulfill(status=500, body="boom"))
    _drag(page, _card(page, "Vandelay deal"), _card(page, "Stark deal"))
    expect(page.locator("#flash")).to_contain_text("The move could not be saved")
    expect(_column(page, "Lead").locator("a.deal-title")).to_have_text(lead_titles)
    expect(_column(page, "Proposal").locator("a.deal-title")).to_have_text(["Stark deal"])
    page.unroute("**/move")
    # ... so the next drop goes through.
    _drag(page, _card(page, "Vandelay deal"), _card(page, "Stark deal"))
    expect(page.locator("#flash")).to_contain_text("“Vandelay deal” moved to Proposal.")
    page.reload()
    expect(_column(page, "Proposal").locator("li.deal-card")).to_have_count(2)
    expect(_column(page, "Lead").locator("li.deal-card")).to_have_count(0)  # Hooli is gone
    # The refused and failed requests are logged by Chromium and htmx (htmx logs a network
    # failure as "htmx:afterRequest" and its missing error object as "undefined").
    expected = re.compile(r"40[49]|500|ERR_FAILED|^htmx:|^undefined$")
    unexpected = [e for e in page.console_errors if not expected.search(e)]
    assert not unexpected, unexpected
