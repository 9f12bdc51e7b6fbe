"""/api/v1/.../activities: ingest timeline activities and custom events (one, or a batch
of up to 1,000, idempotent by external_id) and read a contact's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, make_response, request
from flask_babel import gettext as _
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from app.api import bp
from app.api.common import (
    MAX_BATCH,
    ApiError,
    check_args,
    commit,
    conflict,
    decode_cursor,
    encode_cursor,
    envelope,
    json_body,
    only_keys,
    page_limit,
)
from app.auth.permissions import actor, require
from app.contacts.models import Contact
from app.extensions import db
from app.templating import tr
from app.timeline.ingest import (
    ActivityInvalid,
    IngestFailed,
    activity_to_dict,
    clean_activity,
    clean_batch,
    ingest,
    load_activities,
    resolve_contacts,
)
from app.timeline.models import ACTIVITY_KINDS, Activity


def invalid(fields: dict[str, Any]) -> ApiError:
    """422 naming the first bad field, with every one under "fields"."""
    translated = {name: tr(message) for name, message in fields.items()}
    first = next(iter(translated))
    return ApiError(
        422, f"{first}: {translated[first]}", field=first, code="invalid", fields=translated
    )


def _batch_invalid(exc: IngestFailed) -> ApiError:
    fields: dict[str, Any] = {}
    for index, errors in exc.errors.items():
        for name, message in errors.items():
            key = f"activities[{index}].{name}" if name else f"activities[{index}]"
            fields[key] = message
    return invalid(fields)


def _contact(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise ApiError(404, _("No contact with id %(id)s.", id=contact_id))
    return contact


@bp.post("/api/v1/contacts/<int:contact_id>/activities")
@require("write")
def activities_create(contact_id: int):
    """Add an activity to the contact's timeline: 201 created, 200 when its external_id exists."""
    contact = _contact(contact_id)
    body = json_body()
    try:
        item = clean_activity(body, with_contact=False)
    except ActivityInvalid as exc:
        raise invalid(exc.errors) from None
    item.contact_id = contact.id
    try:
        result = ingest(db.session, [item], actor=actor(), via="api")
    except IntegrityError:
        raise conflict() from None
    commit()
    activity = db.session.get(Activity, result.ids[0])
    return make_response(jsonify(activity_to_dict(activity)), 201 if result.created[0] else 200)


@bp.post("/api/v1/activities/batch")
@require("write")
def activities_batch():
    """Add up to 1,000 activities to contacts given by id or email; all or nothing."""
    body = json_body()
    items = body.get("activities")
    if not isinstance(items, list):
        raise ApiError(
            400, _('Send {"activities": [...]}, a list of activities.'), field="activities"
        )
    only_keys(body, {"activities"})
    if len(items) > MAX_BATCH:
        raise ApiError(
            413,
            _(
                "At most %(max)s activities per batch; this one has %(n)s.",
                max=MAX_BATCH,
                n=len(items),
            ),
            field="activities",
        )
    try:
        cleaned = clean_batch(items)
        resolve_contacts(db.session, cleaned)
        result = ingest(db.session, cleaned, actor=actor(), via="api")
    except IngestFailed as exc:
        raise _batch_invalid(exc) from None
    except IntegrityError:
        raise conflict() from None
    commit()
    activities = load_activities(db.session, result.ids)
    data = [
        {
            "index": index,
            "status": "created" if created else "existing",
            "id": aid,
            "activity": activity_to_dict(activities[aid]),
        }
        for index, (aid, created) in enumerate(zip(result.ids, result.created, strict=True))
    ]
    return jsonify(
        {"data": data, "created": result.created_count, "existing": result.existing_count}
    )


@bp.get("/api/v1/contacts/<int:contact_id>/activities")
@require("read")
def activities_list(contact_id: int):
    """The contact's timeline, newest first (optionally of some kinds only)."""
    check_args({"kind", "limit", "cursor"})
    contact = _contact(contact_id)
    stmt = select(Activity).where(Activity.contact_id == contact.id)
    kinds = [k for raw in request.args.getlist("kind") for k in raw.split(",") if k.strip()]
    for kind in kinds:
        if kind.strip() not in ACTIVITY_KINDS:
            raise ApiError(
                400,
                _('Unknown activity kind "%(kind)s".', kind=kind.strip()[:50]),
                field="kind",
                code="invalid",
            )
    if kinds:
        stmt = stmt.where(Activity.kind.in_([k.strip() for k in kinds]))
    cursor = request.args.get("cursor", "").strip()
    if cursor:
        when, last_id = decode_cursor(cursor, 2)
        try:
            after = datetime.fromisoformat(when)
        except (TypeError, ValueError):
            raise ApiError(
                400,
                _("This cursor is not valid; start again without it."),
                field="cursor",
                code="invalid",
            ) from None
        stmt = stmt.where(tuple_(Activity.occurred_at, Activity.id) < tuple_(after, last_id))
    limit = page_limit()
    rows = list(
        db.session.scalars(
            stmt.order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].occurred_at.isoformat(), rows[-1].id])
    return envelope([activity_to_dict(a) for a in rows], next_cursor)
