"""My follow-ups: the current user's open follow-ups by due date (overdue, today,
upcoming), marked done in place, done ones hidden unless asked for."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.timeline.models import Activity
from app.timeutil import utcnow
from tests.timeline.conftest import activities_of, htmx

ROW_RE = re.compile(r'<li id="follow-up-(\d+)" class="follow-up ([a-z ]+)"')


def _sections(html: str) -> dict[str, list[str]]:
    """Follow-up subjects per section of the page."""
    out: dict[str, list[str]] = {}
    for part in html.split('<section class="card follow-up-group follow-ups-')[1:]:
        name = part.split(" ", 1)[0].strip('"')
        out[name] = re.findall(r'<span class="subject">([^<]*)</span>', part)
    return out


def _add_task(auth, cid: int, subject: str, due) -> int:
    response = auth.post(
        f"/timeline/contacts/{cid}/log/task", {"subject": subject, "due": due.isoformat()}
    )
    assert response.status_code == 303, response.data[:300]
    with auth.client.application.app_context():
        return db.session.scalar(select(Activity.id).where(Activity.subject == subject))


def test_my_follow_ups_by_due_date(app, client, auth, make_contact):
    ann = make_contact(email="ann@acme.com", first_name="Ann", last_name="Lee")
    bob = make_contact(email="bob@acme.com", first_name="Bob")
    today = utcnow().date()
    auth.login("member")
    _add_task(auth, ann, "Upcoming thing", today + timedelta(days=3))
    _add_task(auth, bob, "Late thing", today - timedelta(days=2))
    _add_task(auth, ann, "Today thing", today)
    _add_task(auth, bob, "Much later", today + timedelta(days=40))
    _add_task(auth, ann, "Very late", today - timedelta(days=30))
    auth.logout()
    auth.login("admin")
    _add_task(auth, ann, "Admin's own", today)
    auth.logout()

    auth.login("member")
    page = client.get("/timeline/follow-ups").data.decode()
    assert _sections(page) == {
        "overdue": ["Very late", "Late thing"],
        "today": ["Today thing"],
        "upcoming": ["Upcoming thing", "Much later"],
    }
    assert "5 open" in page and "Admin&#39;s own" not in page
    assert 'class="follow-up overdue"' in page  # highlighted
    assert f'<a href="/contacts/{ann}#timeline">Ann Lee</a>' in page
    # The nav links to it from every page.
    assert 'href="/timeline/follow-ups"' in client.get("/contacts/").data.decode()


def test_mark_done_in_place_then_show_and_reopen(app, client, auth, users, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    today = utcnow().date()
    auth.login("member")
    late = _add_task(auth, cid, "Late thing", today - timedelta(days=1))
    soon = _add_task(auth, cid, "Soon thing", today + timedelta(days=1))
    response = auth.post(
        f"/timeline/activities/{late}/done", {"view": "follow-ups", "done": "1"}, htmx=True
    )
    assert response.status_code == 200
    row = response.data.decode()
    assert ROW_RE.search(row).groups() == (str(late), "done")
    assert "Open again" in row and "done " in row
    (task,) = [a for a in activities_of(app, cid) if a.id == late]
    assert task.completed_at is not None and task.updated_at is not None
    # Done ones are hidden by default, listed with the toggle.
    page = client.get("/timeline/follow-ups").data.decode()
    assert _sections(page) == {"upcoming": ["Soon thing"]} and "Show done" in page
    shown = client.get("/timeline/follow-ups?done=1").data.decode()
    assert _sections(shown) == {"upcoming": ["Soon thing"], "done": ["Late thing"]}
    assert "Hide done" in shown
    # The contact's timeline shows it done too, with the same button.
    timeline = client.get(f"/contacts/{cid}").data.decode()
    assert f'id="activity-{late}" class="activity activity-task done"' in timeline
    # Open again, without JavaScript this time: back to the follow-ups page.
    again = auth.post(f"/timeline/activities/{late}/done", {"view": "follow-ups", "done": "0"})
    assert again.status_code == 303 and again.headers["Location"].endswith("/timeline/follow-ups")
    assert _sections(client.get("/timeline/follow-ups").data.decode())["overdue"] == ["Late thing"]
    with app.app_context():
        actions = list(
            db.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity_id == late, AuditEntry.entity_type == "activity")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["create", "complete", "reopen"]
    # From the contact's timeline, the entry is redrawn in place.
    done_there = auth.post(
        f"/timeline/activities/{soon}/done", {"view": "contact", "done": "1"}, htmx=True
    ).data.decode()
    assert f'<li id="activity-{soon}" class="activity activity-task done"' in done_there


def test_nobody_else_marks_my_follow_ups(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    tid = _add_task(auth, cid, "Mine", utcnow().date())
    auth.logout()
    auth.login("viewer")
    assert "Mine" not in client.get("/timeline/follow-ups").data.decode()
    assert "Nothing to follow up" in client.get("/timeline/follow-ups").data.decode()
    assert auth.post(f"/timeline/activities/{tid}/done", htmx=True).status_code == 403
    auth.logout()
    auth.login("admin")
    assert auth.post(f"/timeline/activities/{tid}/done", {"done": "1"}).status_code == 303
    # A note is not something to mark done.
    assert auth.post(f"/timeline/contacts/{cid}/log/note", {"body": "n"}).status_code == 303
    note = next(a for a in activities_of(app, cid) if a.kind == "note")
    assert auth.post(f"/timeline/activities/{note.id}/done").status_code == 400
    assert htmx(client, "/timeline/follow-ups").status_code == 200
