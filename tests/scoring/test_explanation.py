"""The contact page explains the score with the same code that stores it: the card's
lines add up to the stored score, and the API answers the same."""

from __future__ import annotations

import re
from html import unescape

POINTS_RE = re.compile(r'data-points="(-?\d+)"')


def card(html: bytes) -> str:
    text = html.decode()
    start = text.index('id="score"')
    return text[start : text.index("</section>", start)]


def test_contact_page_lists_the_rules_that_give_points(auth, scoring, run_jobs):
    scoring.field_rule("Lives in France", 20, {"field": "country", "op": "eq", "value": "FR"})
    scoring.activity_rule("Opened an email", 10, "email_opened", 30, max_count=3, decay_days=7)
    scoring.activity_rule("Unsubscribed", -5, "unsubscribe", 365)
    scoring.field_rule("VIP", 40, {"field": "tags", "op": "contains", "value": "vip"})
    run_jobs()
    cid = scoring.contact(email="a@example.com", country="FR")
    for days in (1, 2, 9, 20):
        scoring.activity(cid, "email_opened", days_ago=days)
    scoring.activity(cid, "unsubscribe")
    stored = scoring.score(cid)
    assert stored == 20 + 25 - 5  # 10 + 10 + 5 (the 3 most recent, one decayed)
    auth.login("viewer")
    page = auth.client.get(f"/contacts/{cid}")
    assert page.status_code == 200
    html = card(page.data)
    assert f"Lead score {stored}" in html
    assert sum(int(p) for p in POINTS_RE.findall(html)) == stored
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    text = " ".join(text.split())
    assert "+20 Lives in France" in text
    assert "+25 Opened an email (4 in 30 days, 3 counted, decayed)" in text
    minus, times = "\u2212", "\u00d7"  # a minus sign, a times sign
    assert f"{minus}5 Unsubscribed (1{times} in 365 days)" in text  # its own window
    assert "VIP" not in text  # gave nothing
    assert "Scoring rules" not in text  # the link is for admins
    api = scoring.explained(cid)
    assert api["score"] == stored == api["stored_score"]
    assert [(r["name"], r["points"]) for r in api["rules"]] == [
        ("Lives in France", 20),
        ("Opened an email", 25),
        ("Unsubscribed", -5),
    ]


def test_card_refreshes_through_htmx_and_full_loads_go_to_the_contact(auth, scoring, run_jobs):
    scoring.field_rule("Lives in France", 20, {"field": "country", "op": "eq", "value": "FR"})
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    auth.login("member")
    page = auth.client.get(f"/contacts/{cid}")
    assert "contact-changed from:body, timeline-changed from:body" in card(page.data)
    scoring.patch(cid, country="FR")
    fragment = auth.client.get(f"/scoring/contacts/{cid}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert b"Lead score 20" in fragment.data and b"<html" not in fragment.data
    full = auth.client.get(f"/scoring/contacts/{cid}")
    assert full.status_code in (302, 303)
    assert full.headers["Location"].endswith(f"/contacts/{cid}#score")
    missing = auth.client.get("/scoring/contacts/999999", headers={"HX-Request": "true"})
    assert missing.status_code == 404


def test_clipped_scores_say_so(auth, scoring, run_jobs):
    scoring.field_rule("Active", 70, {"field": "status", "op": "eq", "value": "active"})
    scoring.field_rule("French", 60, {"field": "country", "op": "eq", "value": "FR"})
    run_jobs()
    cid = scoring.contact(email="a@example.com", country="FR")
    assert scoring.score(cid) == 100
    auth.login("member")
    html = card(auth.client.get(f"/contacts/{cid}").data)
    assert "add up to 130" in html
    assert scoring.explained(cid)["total"] == 130


def test_without_rules_the_card_says_the_score_is_typed(auth, scoring):
    cid = scoring.contact(email="a@example.com", lead_score=33)
    auth.login("admin")
    html = card(auth.client.get(f"/contacts/{cid}").data)
    assert "Lead score 33" in html and "set by hand or by imports" in html
    assert 'href="/scoring/"' in html


def test_a_score_behind_the_rules_is_shown_with_the_stored_one(app, auth, scoring, run_jobs):
    """Activities age: until the nightly job runs, the card says what the rules give now
    and what is stored."""
    scoring.activity_rule("Calls", 30, "call", 10)
    run_jobs()
    cid = scoring.contact(email="a@example.com")
    scoring.activity(cid, "call", days_ago=9.999)
    assert scoring.score(cid) == 30
    with app.app_context():
        from app.extensions import db
        from app.timeline.models import Activity

        # The clock moved on two days: the call is 12 days old, outside the 10-day window.
        for activity in db.session.scalars(db.select(Activity)):
            activity.occurred_at -= _days(2)
        db.session.commit()
    assert scoring.explained(cid)["score"] == 0
    assert scoring.explained(cid)["stored_score"] == 30
    auth.login("member")
    html = card(auth.client.get(f"/contacts/{cid}").data)
    assert "The stored score is 30" in html
    with app.app_context():
        from app.scoring.jobs import queue_daily

        assert queue_daily() is not None
    run_jobs()
    assert scoring.score(cid) == 0


def _days(n: int):
    from datetime import timedelta

    return timedelta(days=n)
