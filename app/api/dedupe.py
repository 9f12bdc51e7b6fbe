"""/api/v1: suggested duplicates, merge, dismiss and undo (thin: the logic lives in
app.dedupe.merger and app.dedupe.queue)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.api import bp
from app.api.common import (
    ApiError,
    check_args,
    choice_arg,
    commit,
    conflict,
    envelope,
    json_body,
    keyset_page,
    only_keys,
    page_limit,
)
from app.auth.permissions import actor, require
from app.dedupe import queue
from app.dedupe.merger import (
    COLUMN_TO_FIELD,
    MergeError,
    can_undo,
    dismiss,
    merge,
    undo_deadline,
    undo_merge,
)
from app.dedupe.models import PAIR_STATUSES, DuplicatePair, Merge
from app.extensions import db
from app.templating import tr

API_SIDES = {"survivor": "survivor", "duplicate": "other", "both": "both"}
NOT_FIELDS = ("duplicate_id", "version", "duplicate_version", "pair_id")


def _summary(person: dict[str, Any] | None) -> dict[str, Any] | None:
    if person is None or "email" not in person:
        return None
    return {"id": person["id"], "email": person["email"], "name": person["name"] or None}


def pair_json(pair: DuplicatePair, people: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The API form of a suggested pair (reasons as human text, codes alongside)."""
    return {
        "id": pair.id,
        "a": pair.contact_a_id,
        "b": pair.contact_b_id,
        "score": pair.score,
        "reasons": queue.describe(pair.reasons),
        "reason_codes": pair.reasons or [],
        "cluster_id": pair.cluster_id,
        "status": pair.status,
        "a_contact": _summary(people.get(pair.contact_a_id)),
        "b_contact": _summary(people.get(pair.contact_b_id)),
        "created_at": audit.jsonable(pair.created_at),
        "decided_at": audit.jsonable(pair.decided_at),
    }


def merge_json(m: Merge) -> dict[str, Any]:
    """The API form of a merge."""
    moved = m.moved or {}
    changes = (m.fields or {}).get("changes") or {}
    custom = (m.fields or {}).get("custom") or {}
    fields = {COLUMN_TO_FIELD.get(col, col): change for col, change in changes.items()}
    fields.update({f"custom.{name}": change for name, change in custom.items()})
    pair = moved.get("pair") or {}
    return {
        "id": m.id,
        "survivor": m.survivor_id,
        "merged": m.merged_contact_id,
        "merged_email": (m.merged_snapshot.get("contact") or {}).get("email"),
        "restored": moved.get("restored_id"),
        "pair_id": pair.get("id"),
        "fields": fields,
        "moved": {
            "activities": len(moved.get("activities") or []),
            "deals": len(moved.get("deals") or []),
            "lists": len(moved.get("lists_moved") or []),
            "tags": len(moved.get("tags_added") or []),
            "referrals": len(moved.get("referred_by_id") or [])
            + len(moved.get("reports_to_id") or []),
        },
        "user_id": m.user_id,
        "created_at": audit.jsonable(m.created_at),
        "undone_at": audit.jsonable(m.undone_at),
        "undo_until": audit.jsonable(undo_deadline(m)),
        "can_undo": can_undo(m),
    }


def _error(exc: MergeError, *, api_field_prefix: bool = False) -> ApiError:
    field = exc.field
    if api_field_prefix and field and field not in NOT_FIELDS:
        field = f"fields.{field}"
    message = tr(exc.message)
    if field and exc.code == "invalid":
        message = f"{field}: {message}"
    return ApiError(exc.status, message, field=field, code=exc.code, **exc.extra)


def _int_arg(name: str, lo: int, hi: int) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit() or not lo <= int(raw) <= hi:
        raise ApiError(
            400,
            _("%(name)s must be a whole number from %(lo)s to %(hi)s.", name=name, lo=lo, hi=hi),
            field=name,
            code="invalid",
        )
    return int(raw)


@bp.get("/api/v1/duplicates")
@require("read")
def duplicates_list():
    """Suggested duplicate pairs, highest score first (open ones unless `status` says)."""
    check_args({"limit", "cursor", "min_score", "cluster", "status"})
    status = choice_arg("status", PAIR_STATUSES, "open")
    stmt = select(DuplicatePair).where(DuplicatePair.status == status)
    min_score = _int_arg("min_score", 0, 100)
    if min_score is not None:
        stmt = stmt.where(DuplicatePair.score >= min_score)
    cluster = _int_arg("cluster", 0, 2**62)
    if cluster is not None:
        stmt = stmt.where(DuplicatePair.cluster_id == cluster)
    rows, next_cursor = keyset_page(
        stmt,
        [(-DuplicatePair.score).label("k_score"), DuplicatePair.id.label("k_id")],
        page_limit(),
    )
    pairs = [row[0] for row in rows]
    people = queue.summaries(
        db.session, {p.contact_a_id for p in pairs} | {p.contact_b_id for p in pairs}
    )
    return envelope([pair_json(p, people) for p in pairs], next_cursor)


def _choices(raw: Any) -> dict[str, Any]:
    """The body's "fields" as merger choices ("duplicate" -> the other record)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError(
            422, _('"fields" must be an object of field choices.'), field="fields", code="invalid"
        )
    out: dict[str, Any] = {}
    for key, choice in raw.items():
        if isinstance(choice, str) and choice in API_SIDES:
            out[key] = API_SIDES[choice]
        elif isinstance(choice, dict) and set(choice) == {"value"}:
            out[key] = choice
        else:
            raise ApiError(
                422,
                _(
                    'fields.%(key)s: choose "survivor", "duplicate" (or "both" for a '
                    'multi-select) or give {"value": ...}.',
                    key=key,
                ),
                field=f"fields.{key}",
                code="invalid",
            )
    return out


@bp.post("/api/v1/contacts/<int:contact_id>/merge")
@require("write")
def contacts_merge(contact_id: int):
    """Merge another contact (`duplicate_id`) into this one, which survives."""
    body = json_body()
    only_keys(body, {"duplicate_id", "fields", "version", "duplicate_version"})
    other = body.get("duplicate_id")
    if isinstance(other, bool) or not isinstance(other, int):
        raise ApiError(
            422,
            _("duplicate_id: give the id of the contact to merge into this one."),
            field="duplicate_id",
            code="invalid",
        )
    versions: dict[int, Any] = {}
    for key, cid in (("version", contact_id), ("duplicate_version", other)):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(
                422, _("%(key)s must be a whole number.", key=key), field=key, code="invalid"
            )
        versions[cid] = value
    choices = _choices(body.get("fields"))
    try:
        m = merge(contact_id, other, fields=choices, actor=actor(), via="api", versions=versions)
    except StaleDataError:
        raise conflict() from None
    except MergeError as exc:
        raise _error(exc, api_field_prefix=True) from None
    merge_id = m.id
    commit()
    return make_response(jsonify(merge_json(db.session.get(Merge, merge_id))), 201)


@bp.post("/api/v1/duplicates/<int:pair_id>/dismiss")
@require("write")
def duplicates_dismiss(pair_id: int):
    """Not a duplicate: the pair is never suggested again."""
    try:
        pair = dismiss(pair_id, actor=actor(), via="api")
    except MergeError as exc:
        raise _error(exc) from None
    commit()
    pair = db.session.get(DuplicatePair, pair_id)
    people = queue.summaries(db.session, {pair.contact_a_id, pair.contact_b_id})
    return jsonify(pair_json(pair, people))


@bp.get("/api/v1/merges")
@require("read")
def merges_list():
    """Merges, newest first (`contact_id` filters on the survivor or the merged contact)."""
    check_args({"limit", "cursor", "contact_id"})
    stmt = select(Merge)
    contact_id = _int_arg("contact_id", 1, 2**62)
    if contact_id is not None:
        stmt = stmt.where(
            (Merge.survivor_id == contact_id) | (Merge.merged_contact_id == contact_id)
        )
    rows, next_cursor = keyset_page(stmt, [(-Merge.id).label("k_id")], page_limit())
    return envelope([merge_json(row[0]) for row in rows], next_cursor)


def _get_merge(merge_id: int) -> Merge:
    m = db.session.get(Merge, merge_id)
    if m is None:
        raise ApiError(404, _("No merge with id %(id)s.", id=merge_id))
    return m


@bp.get("/api/v1/merges/<int:merge_id>")
@require("read")
def merges_get(merge_id: int):
    """One merge: who survived, what moved, until when it can be undone."""
    return jsonify(merge_json(_get_merge(merge_id)))


@bp.post("/api/v1/merges/<int:merge_id>/undo")
@require("write")
def merges_undo(merge_id: int):
    """Undo a merge (within 30 days): both contacts come back as they were."""
    _get_merge(merge_id)
    try:
        undo_merge(merge_id, actor=actor(), via="api")
    except StaleDataError:
        raise conflict() from None
    except MergeError as exc:
        raise _error(exc) from None
    commit()
    return jsonify(merge_json(db.session.get(Merge, merge_id)))
