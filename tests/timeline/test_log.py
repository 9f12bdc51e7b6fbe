"""Logging on a contact's timeline through its page: a note, a call, a meeting with
attendees and a follow-up, each shown with its details; refused forms say why and write
nothing; edit and delete by the author or an admin only, each leaving an audit entry."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.extensions import db
from app.timeline.models import Activity
from tests.timeline.conftest import activities_of, contact_row, entry_ids, htmx


def _audits(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "activity", AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Activity))


def test_log_each_kind_from_the_contact_page(app, client, auth, users, make_contact):
    boss = make_contact(email="boss@acme.com", first_name="Big", last_name="Boss")
    cfo = make_contact(email="cfo@acme.com", first_name="Cleo", last_name="Fox")
    cid = make_contact(email="ann@acme.com", first_name="Ann", company="Acme")
    auth.login("member")
    page = client.get(f"/contacts/{cid}").data.decode()
    # The log forms are on the page; the note form shows first.
    assert f'action="/timeline/contacts/{cid}/log/note"' in page
    for kind in ("call", "meeting", "task"):
        assert f'href="/timeline/contacts/{cid}/log/{kind}"' in page

    steps = [
        ("note", {"body": "Likes\nshort emails"}, "Note added."),
        (
            "call",
            {"direction": "in", "outcome": "voicemail", "duration": "7", "body": "Called back",
             "occurred_at": "2024-03-01T10:15"},
            "Call logged.",
        ),
        (
            "meeting",
            {"occurred_at": "2024-03-02T14:00", "subject": "Kick-off", "attendees": [str(boss)],
             "attendee_emails": "CFO@acme.com", "body": "Agreed on scope"},
            "Meeting logged.",
        ),
        ("task", {"subject": "Send the quote", "due": "2031-05-04", "body": "v2"},
         "Follow-up added."),
    ]  # fmt: skip
    for kind, form, message in steps:
        response = auth.post(f"/timeline/contacts/{cid}/log/{kind}", form)
        assert response.status_code == 303, (kind, response.data[:500])
        assert response.headers["Location"].endswith(f"/contacts/{cid}#timeline")
        assert message in client.get(f"/contacts/{cid}").data.decode()

    note, call, meeting, task = sorted(activities_of(app, cid), key=lambda a: a.id)
    assert (note.kind, note.body, note.user_id) == (
        "note",
        "Likes\nshort emails",
        users["member"].id,
    )
    assert call.data == {"direction": "in", "outcome": "voicemail", "duration_minutes": 7}
    assert call.occurred_at.isoformat() == "2024-03-01T10:15:00"
    assert meeting.data == {"attendees": [boss, cfo]} and meeting.subject == "Kick-off"
    assert task.subject == "Send the quote" and task.due_at.isoformat() == "2031-05-04T00:00:00"
    assert task.completed_at is None
    company_id = contact_row(app, cid).company_id
    assert {a.company_id for a in (note, call, meeting, task)} == {company_id}
    assert {a.source for a in (note, call, meeting, task)} == {"web"}

    page = client.get(f"/contacts/{cid}").data.decode()
    # Newest first: the note and the task (logged now), then the meeting, then the call.
    assert entry_ids(page) == [task.id, note.id, meeting.id, call.id]
    assert "Likes\nshort emails" in page
    assert "Incoming" in page and "7 minutes" in page and "Left voicemail" in page
    assert "Kick-off" in page and f'<a href="/contacts/{boss}">Big Boss</a>' in page
    assert f'<a href="/contacts/{cfo}">Cleo Fox</a>' in page
    assert "Send the quote" in page and "Due May 4, 2031" in page and "Mark done" in page
    created = _audits(app, "create")
    assert [a.entity_id for a in created] == [note.id, call.id, meeting.id, task.id]
    assert created[1].changes["kind"] == "call" and created[1].changes["contact_id"] == cid


def test_logging_with_htmx_answers_a_fresh_form_and_refreshes_the_timeline(
    app, client, auth, make_contact
):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    tab = htmx(client, f"/timeline/contacts/{cid}/log/call").data.decode()
    assert '<div id="timeline-log"' in tab and "<html" not in tab and 'name="outcome"' in tab
    response = auth.post(
        f"/timeline/contacts/{cid}/log/call",
        {"direction": "out", "outcome": "connected", "duration": "12"},
        htmx=True,
    )
    assert response.status_code == 200
    body = response.data.decode()
    assert "Call logged." in body and 'name="duration" min="0" max="1440" step="1" value=""' in body
    assert json.loads(response.headers["HX-Trigger"]) == {"contact-changed": None}
    # The contact's dates are swapped in out of band: it was just contacted.
    assert 'id="group-system"' in body and 'hx-swap-oob="true"' in body
    contact = contact_row(app, cid)
    assert contact.last_contacted_at is not None
    assert f'data-field="last_contacted_at">{contact.last_contacted_at:%-m/%-d/%y}' in body
    # The timeline list the page then asks for shows the call.
    listing = htmx(client, f"/timeline/contacts/{cid}").data.decode()
    assert listing.startswith('\n<div id="timeline-body"') or '<div id="timeline-body"' in listing
    assert "12 minutes" in listing and "Connected" in listing
    # Without htmx, the fragment URL sends the browser to the contact page.
    plain = client.get(f"/timeline/contacts/{cid}?kinds=call")
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith(f"/contacts/{cid}?kinds=call#timeline")


@pytest.mark.parametrize(
    ("kind", "form", "errors"),
    [
        ("note", {"body": "   "}, ["Write the note."]),
        ("note", {"body": "x", "occurred_at": "yesterday"},
         ["Enter a date and time, such as 2024-05-01 09:30."]),
        ("note", {"body": "x", "occurred_at": "2099-01-01T10:00"}, ["This has not happened yet"]),
        ("call", {"direction": "sideways", "outcome": "maybe", "duration": "ten"},
         ["Choose incoming or outgoing.", "Choose how the call went.",
          "Enter whole minutes, such as 15."]),
        ("call", {"outcome": "busy", "duration": "2000"}, ["Between 0 and 1,440 minutes."]),
        ("meeting", {"subject": "Demo"}, ["When did it happen?"]),
        ("meeting", {"occurred_at": "2024-01-01T10:00", "attendee_emails": "nobody@nowhere.io"},
         ["No contact has the email nobody@nowhere.io."]),
        ("meeting", {"occurred_at": "2024-01-01T10:00", "attendee_emails": "not an email"},
         ["Not an email address: not, an, email"]),
        ("task", {"subject": "", "due": "soon"},
         ["Say what to follow up on.", "Enter a date, such as 2024-05-01."]),
        ("task", {"subject": "Call back"}, ["When is it due?"]),
    ],
)  # fmt: skip
def test_refused_forms_say_why_keep_the_input_and_write_nothing(
    app, client, auth, make_contact, kind, form, errors
):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    before = _count(app)
    for as_htmx in (True, False):
        response = auth.post(f"/timeline/contacts/{cid}/log/{kind}", form, htmx=as_htmx)
        # htmx swaps only 2xx answers: the form with its errors; a browser gets a 422 page.
        assert response.status_code == (200 if as_htmx else 422)
        body = response.data.decode()
        assert "Nothing was saved: correct the fields marked below." in body
        for message in errors:
            assert message in body, (message, body[-3000:])
        assert 'aria-invalid="true"' in body
        for value in form.values():
            if value.strip() and value not in ("sideways", "maybe", "busy"):
                assert f'value="{value}"' in body or f">{value}</textarea>" in body, value
        assert "HX-Trigger" not in response.headers
        if not as_htmx:
            assert "<html" in body and f'href="/contacts/{cid}#timeline"' in body
    assert _count(app) == before
    assert _audits(app, "create") == []


def test_a_chosen_attendee_stays_chosen_when_the_form_is_refused(app, auth, make_contact):
    boss = make_contact(email="boss@acme.com", first_name="Big", last_name="Boss")
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    response = auth.post(
        f"/timeline/contacts/{cid}/log/meeting", {"attendees": [str(boss)]}, htmx=True
    )
    body = response.data.decode()
    assert "When did it happen?" in body
    assert f'name="attendees" value="{boss}" checked> Big Boss' in body
    # An attendee removed since: the form says so rather than storing a dangling id.
    gone = auth.post(
        f"/timeline/contacts/{cid}/log/meeting",
        {"occurred_at": "2024-01-01T09:00", "attendees": ["999999"]},
        htmx=True,
    ).data.decode()
    assert "Some attendees are no longer contacts" in gone
    assert _count(app) == 0


def test_log_forms_are_for_members_and_admins(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com")
    auth.login("viewer")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert "/log/note" not in page and 'id="timeline"' in page
    assert auth.post(f"/timeline/contacts/{cid}/log/note", {"body": "hi"}).status_code == 403
    assert client.get(f"/timeline/contacts/{cid}/log/note").status_code == 403
    auth.logout()
    auth.login("member")
    assert client.get(f"/timeline/contacts/{cid}/log/email_sent").status_code == 404
    assert auth.post(f"/timeline/contacts/{cid}/log/merge", {}).status_code == 404
    assert auth.post("/timeline/contacts/999999/log/note", {"body": "x"}).status_code == 404
    # The full-page form (no JavaScript) works on its own.
    form_page = client.get(f"/timeline/contacts/{cid}/log/task").data.decode()
    assert "<html" in form_page and 'name="due"' in form_page
    assert _count(app) == 0


def _log_call(auth, cid: int, **form) -> int:
    data = {"direction": "out", "outcome": "connected", **form}
    assert auth.post(f"/timeline/contacts/{cid}/log/call", data).status_code == 303
    with auth.client.application.app_context():
        return db.session.scalar(select(func.max(Activity.id)))


def test_the_author_edits_inline_and_the_history_stays_sane(app, client, auth, make_contact):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    aid = _log_call(auth, cid, duration="5", body="first", occurred_at="2024-03-01T10:15")
    form = htmx(client, f"/timeline/activities/{aid}/edit").data.decode()
    assert f'<li id="activity-{aid}" class="activity activity-call editing">' in form
    assert 'value="2024-03-01T10:15"' in form and ">first</textarea>" in form
    assert '<option value="connected" selected>' in form
    cancel = htmx(client, f"/timeline/activities/{aid}?view=contact").data.decode()
    assert cancel.startswith(f'\n<li id="activity-{aid}"') or f'<li id="activity-{aid}"' in cancel

    # Saving the form untouched changes nothing (a minute-precise date is the same date).
    same = auth.post(
        f"/timeline/activities/{aid}/edit",
        {"view": "contact", "direction": "out", "outcome": "connected", "duration": "5",
         "body": "first", "occurred_at": "2024-03-01T10:15"},
        htmx=True,
    )  # fmt: skip
    assert same.status_code == 200 and "HX-Trigger" not in same.headers
    assert _audits(app, "update") == []
    assert activities_of(app, cid)[-1].updated_at is None

    saved = auth.post(
        f"/timeline/activities/{aid}/edit",
        {"view": "contact", "direction": "out", "outcome": "busy", "duration": "",
         "body": "second", "occurred_at": "2024-02-01T08:00"},
        htmx=True,
    )  # fmt: skip
    assert saved.status_code == 200
    body = saved.data.decode()
    assert f'<li id="activity-{aid}" class="activity activity-call"' in body and "Busy" in body
    assert "edited" in body and "second" in body
    # The date moved: the list re-sorts itself and the contact's dates follow.
    assert "contact-changed" in saved.headers["HX-Trigger"]
    assert 'id="group-system"' in body
    (call,) = activities_of(app, cid)
    assert call.updated_at is not None and call.data["outcome"] == "busy"
    assert (
        call.data["duration_minutes"] is None
        and call.occurred_at.isoformat() == "2024-02-01T08:00:00"
    )
    (update,) = _audits(app, "update")
    assert update.entity_id == aid
    assert update.changes["body"] == ["first", "second"]
    assert update.changes["occurred_at"] == ["2024-03-01T10:15:00Z", "2024-02-01T08:00:00Z"]

    # A refused edit keeps the stored activity and says why.
    refused = auth.post(
        f"/timeline/activities/{aid}/edit",
        {"view": "contact", "direction": "out", "outcome": "", "occurred_at": "2024-02-01T08:00"},
    )
    assert refused.status_code == 422 and "Choose how the call went." in refused.data.decode()
    assert activities_of(app, cid)[0].data["outcome"] == "busy"
    # Full page: the edit page, then back to the contact page.
    assert "<html" in client.get(f"/timeline/activities/{aid}/edit").data.decode()
    plain = auth.post(
        f"/timeline/activities/{aid}/edit",
        {"direction": "in", "outcome": "connected", "occurred_at": "2024-02-01T08:00"},
    )
    assert plain.status_code == 303 and plain.headers["Location"].endswith(
        f"/contacts/{cid}#timeline"
    )


def test_only_the_author_or_an_admin_edits_or_deletes(app, client, auth, users, make_contact):
    from app.auth.models import User

    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    aid = _log_call(auth, cid, body="mine")
    auth.logout()
    # Another member sees the call without the buttons, and is refused.
    with app.app_context():
        other = User(email="other@example.com", name="Other", role="member")
        from tests.conftest import PASSWORD

        other.set_password(PASSWORD)
        db.session.add(other)
        db.session.commit()
    auth.login("other")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert f'id="activity-{aid}"' in page
    assert f"/timeline/activities/{aid}/edit" not in page
    assert f"/timeline/activities/{aid}/delete" not in page
    assert client.get(f"/timeline/activities/{aid}/edit").status_code == 403
    edit = {"direction": "out", "outcome": "busy", "body": "mine"}
    assert auth.post(f"/timeline/activities/{aid}/edit", edit).status_code == 403
    assert auth.post(f"/timeline/activities/{aid}/delete", htmx=True).status_code == 403
    assert client.get(f"/timeline/activities/{aid}/delete").status_code == 403
    auth.logout()
    auth.login("viewer")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert f'id="activity-{aid}"' in page and f"/timeline/activities/{aid}/edit" not in page
    assert auth.post(f"/timeline/activities/{aid}/delete").status_code == 403
    auth.logout()
    assert activities_of(app, cid)[0].data["outcome"] == "connected"
    # An admin may: edit, then delete (asked first without JavaScript).
    auth.login("admin")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert f"/timeline/activities/{aid}/edit" in page
    assert auth.post(f"/timeline/activities/{aid}/edit", edit).status_code == 303
    confirm = client.get(f"/timeline/activities/{aid}/delete?view=contact").data.decode()
    assert "Delete this entry from the timeline?" in confirm and "mine" in confirm
    deleted = auth.post(f"/timeline/activities/{aid}/delete", {"view": "contact"}, htmx=True)
    assert deleted.status_code == 200 and 'id="group-system"' in deleted.data.decode()
    assert activities_of(app, cid) == []
    (entry,) = _audits(app, "delete")
    assert entry.entity_id == aid and entry.user_id == users["admin"].id
    assert entry.changes["body"] == "mine" and entry.changes["kind"] == "call"
    assert client.get(f"/timeline/activities/{aid}/edit").status_code == 404


def test_kontors_own_history_is_kept_but_api_activities_can_go(
    app, client, auth, make_contact, add_activities
):
    cid = make_contact(email="ann@acme.com", first_name="Ann")
    auth.login("member")
    # A field change (Kontor's record) and an email sent through the API by this member.
    form = htmx(client, f"/contacts/{cid}/groups/basic/edit").data.decode()
    version = form.split('name="version" value="')[1].split('"')[0]
    auth.post(
        f"/contacts/{cid}/groups/basic",
        {"version": version, "email": "ann@acme.com", "first_name": "Annie", "status": "active",
         "lead_score": "0"},
    )  # fmt: skip
    (email_id,) = add_activities(cid, [{"kind": "email_sent", "subject": "Hello"}])
    change = next(a for a in activities_of(app, cid) if a.kind == "field_change")
    page = client.get(f"/contacts/{cid}").data.decode()
    assert f"/timeline/activities/{change.id}/delete" not in page
    assert f"/timeline/activities/{email_id}/delete" in page
    assert f"/timeline/activities/{email_id}/edit" not in page  # emails are not edited
    assert auth.post(f"/timeline/activities/{change.id}/delete").status_code == 403
    assert client.get(f"/timeline/activities/{email_id}/edit").status_code == 403
    response = auth.post(f"/timeline/activities/{email_id}/delete", {"view": "contact"})
    assert response.status_code == 303
    assert [a.kind for a in activities_of(app, cid)] == ["field_change"]


def test_edit_a_meeting_and_a_follow_up(app, client, auth, make_contact):
    boss = make_contact(email="boss@acme.com", first_name="Big", last_name="Boss")
    cfo = make_contact(email="cfo@acme.com", first_name="Cleo")
    cid = make_contact(email="ann@acme.com")
    auth.login("member")
    form = {"occurred_at": "2024-03-02T14:00", "subject": "Demo", "attendees": [str(boss)]}
    assert auth.post(f"/timeline/contacts/{cid}/log/meeting", form).status_code == 303
    (meeting,) = activities_of(app, cid)
    edit = htmx(client, f"/timeline/activities/{meeting.id}/edit").data.decode()
    assert f'name="attendees" value="{boss}" checked> Big Boss' in edit
    assert 'value="Demo"' in edit and 'value="2024-03-02T14:00"' in edit
    # Untick the boss, add the CFO by email.
    saved = auth.post(
        f"/timeline/activities/{meeting.id}/edit",
        {"view": "contact", "occurred_at": "2024-03-02T14:00", "subject": "Demo",
         "attendee_emails": "cfo@acme.com"},
        htmx=True,
    ).data.decode()  # fmt: skip
    assert f'<a href="/contacts/{cfo}">Cleo</a>' in saved and "Big Boss" not in saved
    assert activities_of(app, cid)[0].data == {"attendees": [cfo]}

    due = {"subject": "Quote", "due": "2031-01-01", "body": ""}
    assert auth.post(f"/timeline/contacts/{cid}/log/task", due).status_code == 303
    task = max(activities_of(app, cid), key=lambda a: a.id)
    edit = htmx(client, f"/timeline/activities/{task.id}/edit").data.decode()
    assert 'name="due" value="2031-01-01"' in edit and 'name="occurred_at"' not in edit
    auth.post(
        f"/timeline/activities/{task.id}/edit",
        {"subject": "Quote v2", "due": "2031-02-01"},
        htmx=True,
    )
    task = max(activities_of(app, cid), key=lambda a: a.id)
    assert task.subject == "Quote v2" and task.due_at.isoformat() == "2031-02-01T00:00:00"
