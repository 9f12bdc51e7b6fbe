"""/api/v1/activities/{id}: edit or delete an activity logged by hand (thin: the rules
live in app.timeline.service, the validation in app.timeline.forms)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response
from flask_babel import gettext as _

from app import audit
from app.api import bp
from app.api.common import ApiError, commit, json_body, only_keys
from app.auth.permissions import actor, require
from app.extensions import db
from app.templating import tr
from app.timeline import service
from app.timeline.forms import API_FIELDS, FormInvalid, api_form, clean_form, form_values
from app.timeline.ingest import activity_to_dict
from app.timeline.models import Activity
from app.timeutil import utcnow

# Form inputs named as the API names them.
API_NAMES = {"duration": "duration_minutes", "due": "due_date", "attendee_emails": "attendees"}


def activity_out(activity: Activity) -> dict[str, Any]:
    """An activity as the API answers it, with its follow-up and edit dates."""
    return {
        **activity_to_dict(activity),
        "due_at": audit.jsonable(activity.due_at),
        "completed_at": audit.jsonable(activity.completed_at),
        "updated_at": audit.jsonable(activity.updated_at),
    }


def _invalid(errors: dict[str, str]) -> ApiError:
    fields = {API_NAMES.get(k, k): tr(v) for k, v in errors.items()}
    first = next(iter(fields))
    return ApiError(422, f"{first}: {fields[first]}", field=first, code="invalid", fields=fields)


def _activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise ApiError(404, _("No activity with id %(id)s.", id=activity_id))
    return activity


@bp.patch("/api/v1/activities/<int:activity_id>")
@require("write")
def activities_update(activity_id: int):
    """Edit a note, call, meeting or follow-up (its author or an admin)."""
    activity = _activity(activity_id)
    if not service.can_edit(activity, actor()):
        raise ApiError(
            403,
            _("Only its author or an admin can edit it, and only notes, calls, meetings "
              "and follow-ups are edited."),
            code="forbidden",
        )  # fmt: skip
    body = json_body()
    only_keys(body, API_FIELDS[activity.kind])
    done = body.pop("done", None)
    if done is not None and not isinstance(done, bool):
        raise _invalid({"done": _("Expected true or false.")})
    current = form_values(activity, service.attendee_labels(db.session, activity))
    if activity.occurred_at is not None:
        current["occurred_at"] = activity.occurred_at.isoformat()
    form, errors = api_form(activity.kind, body, current)
    if errors:
        raise _invalid(errors)
    try:
        values = clean_form(activity.kind, form, now=utcnow())
        service.edit_activity(activity, values, actor=actor(), via="api")
        if done is not None:
            service.set_done(activity, done, actor=actor(), via="api")
    except FormInvalid as exc:
        raise _invalid(exc.errors) from None
    commit()
    return jsonify(activity_out(_activity(activity_id)))


@bp.delete("/api/v1/activities/<int:activity_id>")
@require("write")
def activities_delete(activity_id: int):
    """Delete an activity (its author or an admin; not Kontor's own history)."""
    activity = _activity(activity_id)
    if not service.can_delete(activity, actor()):
        raise ApiError(
            403,
            _("Only its author or an admin can delete it, and field changes, merges, "
              "imports, deal events and score thresholds are kept."),
            code="forbidden",
        )  # fmt: skip
    service.delete_activity(activity, actor=actor(), via="api")
    commit()
    return make_response("", 204)
