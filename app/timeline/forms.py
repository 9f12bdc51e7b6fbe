"""The forms that log a note, a call, a meeting or a follow-up task by hand: their
choices, validation of what was typed, and the values an edit form starts with
(pure: no Flask, no database).

Dates typed in the forms are read as UTC, the way Kontor stores every date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from app.i18n import N_, Message

# Kinds a person logs (and edits) by hand on the contact page.
LOGGABLE = ("note", "call", "meeting", "task")
LOG_LABELS = {
    "note": N_("Note"),
    "call": N_("Call"),
    "meeting": N_("Meeting"),
    "task": N_("Follow-up"),
}
# Kontor's own record of what happened (field changes, merges, imports, deals, scores):
# history, so never deleted or edited by hand. Everything else can be deleted by its
# author or an admin (an email ingested by mistake, for instance).
PROTECTED = (
    "field_change",
    "merge",
    "import",
    "score_threshold",
    "deal_created",
    "deal_stage_changed",
    "deal_won",
    "deal_lost",
)

CALL_DIRECTIONS = {"out": N_("Outgoing"), "in": N_("Incoming")}
CALL_OUTCOMES = {
    "connected": N_("Connected"),
    "no_answer": N_("No answer"),
    "voicemail": N_("Left voicemail"),
    "busy": N_("Busy"),
    "wrong_number": N_("Wrong number"),
}
MAX_BODY = 20_000
MAX_SUBJECT = 500
MAX_DURATION = 24 * 60  # minutes
MAX_ATTENDEES = 50
EARLIEST = datetime(1900, 1, 1)
# A clock a little ahead is tolerated; an activity further ahead is refused (it would
# move the contact's "last activity" into the future). Follow-ups are due in the future.
FUTURE_SLACK = timedelta(days=1)
LATEST_DUE = date(9999, 1, 1)

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+$")
_SPLIT = re.compile(r"[,;\s]+")


class FormInvalid(ValueError):
    """Field errors of a log form: {field: message}; nothing was saved."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class LogValues:
    """What a valid log form says, ready for the service."""

    kind: str
    occurred_at: datetime | None = None  # None: now (a task is logged when created)
    subject: str | None = None
    body: str | None = None
    data: dict[str, Any] | None = None
    due_at: datetime | None = None
    attendee_ids: list[int] = field(default_factory=list)
    attendee_emails: list[str] = field(default_factory=list)


FormData = Mapping[str, Sequence[str]]


def _first(form: FormData, key: str) -> str:
    values = form.get(key) or []
    if isinstance(values, str):
        return values.strip()
    return str(values[0]).strip() if values else ""


def _all(form: FormData, key: str) -> list[str]:
    values = form.get(key) or []
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


def _text(form: FormData, key: str, limit: int, errors: dict[str, str]) -> str | None:
    value = _first(form, key)
    if len(value) > limit:
        errors[key] = Message(N_("At most %(n)s characters."), n=f"{limit:,}")
        return None
    return value or None


def parse_moment(raw: str, now: datetime) -> datetime:
    """A date and time typed in a form (2024-05-01T09:30, seconds optional) as naive UTC.

    Raises ValueError(message) when it is not one, too old, or in the future.
    """
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError(N_("Enter a date and time, such as 2024-05-01 09:30.")) from None
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None) - (moment.utcoffset() or timedelta())
    if moment < EARLIEST:
        raise ValueError(N_("The date is too far in the past."))
    if moment > now + FUTURE_SLACK:
        raise ValueError(
            N_("This has not happened yet: log it once it has, or add a follow-up for that day.")
        )
    return moment.replace(microsecond=0)


def parse_due(raw: str) -> datetime:
    """A due date typed in a form (2024-05-01) as the start of that day. Raises ValueError."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(N_("Enter a date, such as 2024-05-01.")) from None
    if day < EARLIEST.date() or day >= LATEST_DUE:
        raise ValueError(N_("Enter a date between 1900 and 9998."))
    return datetime.combine(day, time())


def _when(form: FormData, errors: dict[str, str], now: datetime, *, required: bool):
    raw = _first(form, "occurred_at")
    if not raw:
        if required:
            errors["occurred_at"] = N_("When did it happen?")
        return None
    try:
        return parse_moment(raw, now)
    except ValueError as exc:
        errors["occurred_at"] = exc.args[0]
        return None


def split_emails(raw: str) -> tuple[list[str], list[str]]:
    """Emails typed in a free text field (commas, semicolons or spaces between them):
    (valid, lower-cased and unique; pieces that are not emails)."""
    good: list[str] = []
    bad: list[str] = []
    for piece in _SPLIT.split(raw.strip()):
        if not piece:
            continue
        if _EMAIL.match(piece):
            email = piece.lower()
            if email not in good:
                good.append(email)
        else:
            bad.append(piece)
    return good, bad


def clean_form(kind: str, form: FormData, *, now: datetime) -> LogValues:
    """Validate a log (or edit) form of `kind`; raises FormInvalid naming every bad field.

    Form keys: note: body, occurred_at · call: direction, duration, outcome, body,
    occurred_at · meeting: occurred_at, subject, attendees (contact ids),
    attendee_emails (typed emails), body · task: subject, due, body.
    """
    if kind not in LOGGABLE:
        raise FormInvalid({"kind": N_("Only a note, a call, a meeting or a follow-up.")})
    errors: dict[str, str] = {}
    values = LogValues(kind=kind)
    values.body = _text(form, "body", MAX_BODY, errors)
    if kind == "note":
        values.occurred_at = _when(form, errors, now, required=False)
        if values.body is None and "body" not in errors:
            errors["body"] = N_("Write the note.")
    elif kind == "call":
        values.occurred_at = _when(form, errors, now, required=False)
        direction = _first(form, "direction") or "out"
        if direction not in CALL_DIRECTIONS:
            errors["direction"] = N_("Choose incoming or outgoing.")
        outcome = _first(form, "outcome")
        if outcome not in CALL_OUTCOMES:
            errors["outcome"] = N_("Choose how the call went.")
        duration: int | None = None
        raw = _first(form, "duration")
        if raw:
            try:
                duration = int(raw)
            except ValueError:
                errors["duration"] = N_("Enter whole minutes, such as 15.")
            else:
                if not 0 <= duration <= MAX_DURATION:
                    errors["duration"] = Message(
                        N_("Between 0 and %(n)s minutes."), n=f"{MAX_DURATION:,}"
                    )
        values.data = {"direction": direction, "outcome": outcome, "duration_minutes": duration}
    elif kind == "meeting":
        values.occurred_at = _when(form, errors, now, required=True)
        values.subject = _text(form, "subject", MAX_SUBJECT, errors)
        ids: list[int] = []
        for raw_id in _all(form, "attendees"):
            raw_id = raw_id.strip()
            if not raw_id:
                continue
            if not raw_id.isdigit() or not 0 < int(raw_id) < 2**63:
                errors["attendees"] = N_("Choose attendees from your contacts.")
                break
            if int(raw_id) not in ids:
                ids.append(int(raw_id))
        emails, bad = split_emails(_first(form, "attendee_emails"))
        if bad:
            errors["attendee_emails"] = Message(
                N_("Not an email address: %(text)s"), text=", ".join(bad)[:200]
            )
        if len(ids) + len(emails) > MAX_ATTENDEES:
            errors["attendees"] = Message(N_("At most %(n)s attendees."), n=MAX_ATTENDEES)
        values.attendee_ids, values.attendee_emails = ids, emails
    else:  # task
        values.subject = _text(form, "subject", MAX_SUBJECT, errors)
        if values.subject is None and "subject" not in errors:
            errors["subject"] = N_("Say what to follow up on.")
        raw = _first(form, "due")
        if not raw:
            errors["due"] = N_("When is it due?")
        else:
            try:
                values.due_at = parse_due(raw)
            except ValueError as exc:
                errors["due"] = exc.args[0]
    if errors:
        raise FormInvalid(errors)
    return values


def form_values(activity: Any, attendee_labels: Sequence[tuple[int, str]] = ()) -> dict[str, Any]:
    """What an edit form starts with for a stored activity (text inputs as text)."""
    data = activity.data or {}
    out: dict[str, Any] = {
        "body": activity.body or "",
        "subject": activity.subject or "",
        "occurred_at": activity.occurred_at.strftime("%Y-%m-%dT%H:%M")
        if activity.occurred_at
        else "",
        "due": activity.due_at.date().isoformat() if activity.due_at else "",
        "direction": data.get("direction") or "out",
        "outcome": data.get("outcome") or "",
        "duration": "" if data.get("duration_minutes") is None else str(data["duration_minutes"]),
        "attendees": list(attendee_labels),
        "attendee_emails": "",
    }
    return out


def submitted_values(form: FormData, attendee_labels: Sequence[tuple[int, str]] = ()):
    """What a refused form shows again: the text typed, the attendees chosen."""
    keys = ("body", "subject", "occurred_at", "due", "direction", "outcome", "duration")
    out: dict[str, Any] = {key: _first(form, key) for key in keys}
    out["direction"] = out["direction"] or "out"
    out["attendees"] = list(attendee_labels)
    out["attendee_emails"] = _first(form, "attendee_emails")
    return out


def attendee_ids(form: FormData) -> list[int]:
    """The attendee ids a form carries (the valid ones), to show them again."""
    out: list[int] = []
    for raw in _all(form, "attendees"):
        raw = raw.strip()
        if raw.isdigit() and 0 < int(raw) < 2**63 and int(raw) not in out:
            out.append(int(raw))
    return out[:MAX_ATTENDEES]


def api_form(activity_kind: str, body: Mapping[str, Any], current: Mapping[str, Any]):
    """An API PATCH body as form data over the activity's current values (pure).

    Returns (form data, {field: message} for values of the wrong JSON type).
    """
    errors: dict[str, str] = {}
    form: dict[str, list[str]] = {}
    for key, value in current.items():
        if key == "attendees":
            form["attendees"] = [str(i) for i, _label in value]
        else:
            form[key] = [value]
    names = {"duration_minutes": "duration", "due_date": "due"}
    for key, value in body.items():
        target = names.get(key, key)
        if key == "attendees":
            if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                errors[key] = N_("Expected a list of contact ids.")
                continue
            form["attendees"] = [str(v) for v in value]
        elif value is None:
            form[target] = [""]
        elif key == "duration_minutes":
            if isinstance(value, bool) or not isinstance(value, int):
                errors[key] = N_("Expected a whole number of minutes.")
                continue
            form[target] = [str(value)]
        elif isinstance(value, str):
            form[target] = [value]
        else:
            errors[key] = N_("Expected a string.")
    return form, errors


API_FIELDS = {
    "note": {"body", "occurred_at"},
    "call": {"body", "occurred_at", "direction", "outcome", "duration_minutes"},
    "meeting": {"body", "occurred_at", "subject", "attendees"},
    "task": {"body", "subject", "due_date", "done"},
}
