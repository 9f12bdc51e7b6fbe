"""A contact's "last activity" and "last contacted" stay true to its timeline as activities
are logged, moved in time, and deleted (calls, meetings and emails sent contact; notes,
follow-ups and events are activity; Kontor's own records are neither)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.contacts import events
from app.extensions import db
from app.timeline.models import Activity
from app.timeutil import utcnow
from tests.timeline.conftest import contact_row, htmx


def _dates(app, cid: int) -> tuple[datetime | None, datetime | None]:
    contact = contact_row(app, cid)
    return contact.last_activity_at, contact.last_contacted_at


def _last_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(Activity.id)))


def _edit(auth, aid: int, **form) -> None:
    response = auth.post(f"/timeline/activities/{aid}/edit", {"view": "contact", **form})
    assert response.status_code == 303, response.data[:500]


@pytest.fixture
def heard(app):
    """The contact events the timeline emits, as (kind, ids, via)."""
    seen: list[tuple[str, list[int], str]] = []

    @events.listener("test-timeline-probe")
    def probe(event):
        if event.kind == "activities_changed":
            seen.append((event.kind, list(event.ids), event.via))

    yield seen
    events._listeners[:] = [(n, f) for n, f in events._listeners if n != "test-timeline-probe"]


def test_dates_follow_adds_moves_and_deletes(
    app, client, auth, make_contact, add_activities, heard
):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    assert _dates(app, cid) == (None, None)
    auth.login("member")

    def log(kind: str, **form) -> int:
        response = auth.post(f"/timeline/contacts/{cid}/log/{kind}", form)
        assert response.status_code == 303, response.data[:500]
        return _last_id(app)

    note = log("note", body="n", occurred_at="2024-01-10T09:00")
    assert _dates(app, cid) == (datetime(2024, 1, 10, 9), None)  # a note is not contact
    call = log("call", outcome="connected", occurred_at="2024-01-20T09:00")
    assert _dates(app, cid) == (datetime(2024, 1, 20, 9), datetime(2024, 1, 20, 9))
    meeting = log("meeting", occurred_at="2024-01-15T09:00")
    assert _dates(app, cid) == (datetime(2024, 1, 20, 9), datetime(2024, 1, 20, 9))  # older

    # Moving the call back in time moves both dates back, to the meeting.
    _edit(auth, call, direction="out", outcome="connected", occurred_at="2024-01-05T09:00")
    assert _dates(app, cid) == (datetime(2024, 1, 15, 9), datetime(2024, 1, 15, 9))
    # Moving the note forward moves only "last activity".
    _edit(auth, note, body="n", occurred_at="2024-02-01T09:00")
    assert _dates(app, cid) == (datetime(2024, 2, 1, 9), datetime(2024, 1, 15, 9))
    # Deleting the meeting: last contacted falls back to the call.
    assert auth.post(f"/timeline/activities/{meeting}/delete").status_code == 303
    assert _dates(app, cid) == (datetime(2024, 2, 1, 9), datetime(2024, 1, 5, 9))
    # An email sent through the API counts as contact; deleting the call leaves it.
    add_activities(cid, [{"kind": "email_sent", "occurred_at": "2024-01-03T09:00:00Z"}])
    assert auth.post(f"/timeline/activities/{call}/delete").status_code == 303
    assert _dates(app, cid) == (datetime(2024, 2, 1, 9), datetime(2024, 1, 3, 9))
    # Deleting the last activity clears nothing it should keep.
    assert auth.post(f"/timeline/activities/{note}/delete").status_code == 303
    assert _dates(app, cid) == (datetime(2024, 1, 3, 9), datetime(2024, 1, 3, 9))
    # A follow-up added now is activity (something was done about the contact).
    before = utcnow()
    log("task", subject="Call back", due="2040-01-01")
    last_activity, last_contacted = _dates(app, cid)
    assert last_activity >= before and last_contacted == datetime(2024, 1, 3, 9)
    # Every change told the listeners (lead scores follow), each about this contact.
    assert [h for h in heard if h[2] == "web"] == [("activities_changed", [cid], "web")] * 9


def test_field_changes_are_not_activity(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    form = htmx(client, f"/contacts/{cid}/groups/basic/edit").data.decode()
    version = form.split('name="version" value="')[1].split('"')[0]
    auth.post(
        f"/contacts/{cid}/groups/basic",
        {"version": version, "email": "ann@acme.com", "first_name": "Annie", "status": "active",
         "lead_score": "0"},
    )  # fmt: skip
    assert auth.post(f"/timeline/contacts/{cid}/log/note", {"body": "x"}).status_code == 303
    note = _last_id(app)
    assert _dates(app, cid)[0] is not None
    assert auth.post(f"/timeline/activities/{note}/delete").status_code == 303
    # Only the field change is left: no "last activity".
    assert _dates(app, cid) == (None, None)
