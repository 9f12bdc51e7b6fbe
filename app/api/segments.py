"""/api/v1/segments: saved condition trees, their live count and their contacts, and a
preview count of an unsaved tree."""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response
from flask_babel import gettext as _
from sqlalchemy import func, select

from app import audit
from app.api import bp
from app.api.activities import invalid
from app.api.common import (
    ApiError,
    check_args,
    commit,
    envelope,
    json_body,
    keyset_page,
    only_keys,
    page_limit,
)
from app.auth.permissions import actor, require
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact
from app.contacts.related import contact_to_dict, custom_field_infos, load_related
from app.extensions import db, reads_only
from app.segments import service
from app.segments.models import Segment
from app.segments.tree import TreeError
from app.templating import tr


def tree_error(exc: TreeError) -> ApiError:
    """422 on "conditions" whose message is the bad node's path and what is wrong there."""
    message = tr(exc.message)
    return ApiError(
        422,
        f"{exc.path}: {message}" if exc.path else message,
        field="conditions",
        code="invalid",
        path=exc.path,
    )


def segment_to_dict(segment: Segment, *, with_count: bool = True) -> dict[str, Any]:
    """The API form of a segment; with its live count (null, with "error", when the
    stored tree no longer applies, say a custom field it uses was deleted)."""
    out: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "conditions": segment.conditions,
        "timezone": segment.timezone,
        "owner_id": segment.owner_id,
        "created_at": audit.jsonable(segment.created_at),
        "updated_at": audit.jsonable(segment.updated_at),
    }
    if with_count:
        count, error = service.try_count(db.session, segment)
        out["count"] = count
        if error is not None:
            out["error"] = tree_error(error).message
    return out


def _get(segment_id: int) -> Segment:
    segment = service.get_segment(segment_id)
    if segment is None:
        raise ApiError(404, _("No segment with id %(id)s.", id=segment_id))
    return segment


@bp.get("/api/v1/segments")
@require("read")
def segments_list():
    """Segments by name (without counts: ask one segment for its count)."""
    check_args({"limit", "cursor"})
    rows, next_cursor = keyset_page(
        select(Segment), [func.lower(Segment.name), Segment.id], page_limit()
    )
    return envelope([segment_to_dict(r[0], with_count=False) for r in rows], next_cursor)


@bp.post("/api/v1/segments")
@require("write")
def segments_create():
    """Save a condition tree under a name; answers it with the number of contacts it matches."""
    body = json_body()
    only_keys(body, set(service.KEYS))
    try:
        segment = service.create_segment(body, actor=actor(), via="api")
    except TreeError as exc:
        raise tree_error(exc) from None
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    commit()
    return make_response(jsonify(segment_to_dict(segment)), 201)


@bp.get("/api/v1/segments/<int:segment_id>")
@require("read")
def segments_get(segment_id: int):
    """One segment, with its live count."""
    return jsonify(segment_to_dict(_get(segment_id)))


@bp.patch("/api/v1/segments/<int:segment_id>")
@require("write")
def segments_patch(segment_id: int):
    """Rename a segment, or change its conditions or timezone."""
    segment = _get(segment_id)
    body = json_body()
    only_keys(body, set(service.KEYS))
    try:
        service.update_segment(segment, body, actor=actor(), via="api")
    except TreeError as exc:
        raise tree_error(exc) from None
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    commit()
    return jsonify(segment_to_dict(segment))


@bp.delete("/api/v1/segments/<int:segment_id>")
@require("write")
def segments_delete(segment_id: int):
    """Delete a segment (its contacts stay)."""
    service.delete_segment(_get(segment_id), actor=actor(), via="api")
    commit()
    return "", 204


@bp.get("/api/v1/segments/<int:segment_id>/contacts")
@require("read")
def segments_contacts(segment_id: int):
    """The contacts the segment matches now, by id, in the contact list's JSON form."""
    check_args({"limit", "cursor"})
    segment = _get(segment_id)
    try:
        stmt = service.contacts_select(db.session, segment)
    except TreeError as exc:
        raise tree_error(exc) from None
    rows, next_cursor = keyset_page(stmt, [Contact.id], page_limit())
    contacts = [r[0] for r in rows]
    infos = custom_field_infos(db.session)
    rel = load_related(db.session, contacts, custom_fields=infos)
    return envelope([contact_to_dict(c, rel) for c in contacts], next_cursor)


@bp.post("/api/v1/segments/preview")
@reads_only
@require("read")
def segments_preview():
    """Count the contacts a condition tree matches now, without saving it."""
    body = json_body()
    only_keys(body, {"conditions", "timezone"})
    try:
        count = service.preview(db.session, body.get("conditions"), body.get("timezone"))
    except TreeError as exc:
        raise tree_error(exc) from None
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    return jsonify({"count": count})
