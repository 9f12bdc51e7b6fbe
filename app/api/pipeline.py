"""/api/v1: the pipeline endpoints (thin: the logic lives in app.pipeline).

Deals: list (filters, cursor pages by id), create, read, patch, delete, and move
(`{"stage": <id or name>, "position": n}`, n the 0-based place in the target column).
Stages: list, and for admins create, patch (name, outcome, position) and delete.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response, request
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
from app.auth.models import User
from app.auth.permissions import actor, require
from app.contacts.fields import ValidationFailed
from app.extensions import db
from app.pipeline import service
from app.pipeline import stages as stage_admin
from app.pipeline.board import parse_filters
from app.pipeline.models import Deal, Stage
from app.templating import tr

DEAL_KEYS = {*service.KEYS, *service.ALIASES, "version"}
LIST_ARGS = {"stage", "owner", "contact", "company", "close_from", "close_to", "limit", "cursor"}


@bp.errorhandler(service.DealConflict)
def _deal_conflict(exc: service.DealConflict):
    db.session.rollback()
    deal = db.session.get(Deal, exc.deal.id)
    return ApiError(
        409,
        _("Someone else changed this deal since you read it; nothing was saved."),
        field="version",
        code="conflict",
        version=deal.version if deal else None,
    ).response()


def deal_to_dict(deal: Deal, stages: dict[int, Stage], owners: dict[int, str]) -> dict[str, Any]:
    """The API form of a deal."""
    stage = stages.get(deal.stage_id)
    return {
        "id": deal.id,
        "title": deal.title,
        "value": None if deal.value is None else float(deal.value),
        "currency": deal.currency,
        "stage_id": deal.stage_id,
        "stage": stage.name if stage else None,
        "outcome": stage.outcome if stage else None,
        "position": deal.position,
        "contact_id": deal.contact_id,
        "company_id": deal.company_id,
        "owner_id": deal.owner_id,
        "owner": owners.get(deal.owner_id) if deal.owner_id else None,
        "expected_close_date": audit.jsonable(deal.expected_close_date),
        "closed_reason": deal.closed_reason,
        "closed_at": audit.jsonable(deal.closed_at),
        "stage_entered_at": audit.jsonable(deal.stage_entered_at),
        "created_at": audit.jsonable(deal.created_at),
        "updated_at": audit.jsonable(deal.updated_at),
        "version": deal.version,
    }


def _stages() -> dict[int, Stage]:
    return {s.id: s for s in stage_admin.all_stages()}


def _owners(deals: list[Deal]) -> dict[int, str]:
    ids = {d.owner_id for d in deals if d.owner_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _one(deal: Deal, status: int = 200):
    return make_response(jsonify(deal_to_dict(deal, _stages(), _owners([deal]))), status)


def _get(deal_id: int) -> Deal:
    deal = db.session.get(Deal, deal_id)
    if deal is None:
        raise ApiError(404, _("No deal with id %(id)s.", id=deal_id))
    return deal


def _version(body: dict[str, Any]) -> int | None:
    """The version the client last read: the body's "version", else If-Match."""
    raw = body.pop("version", None)
    if raw is None:
        header = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/")
        raw = header.strip('"') or None
    if raw is None:
        return None
    if isinstance(raw, bool) or not str(raw).isdigit():
        raise invalid({"version": _("Enter a whole number.")})
    return int(raw)


@bp.get("/api/v1/deals")
@require("read")
def deals_list():
    """A page of deals by id; filter by stage, owner, contact, company, close dates."""
    check_args(LIST_ARGS)
    user = actor()
    filters = parse_filters({k: v for k, v in request.args.items() if k != "stage"}, user.id)
    if filters.errors:
        key = next(iter(filters.errors))
        raise ApiError(400, tr(filters.errors[key]), field=key, code="invalid")
    stmt = select(Deal).where(*filters.conditions())
    raw_stage = request.args.get("stage", "").strip()
    if raw_stage:
        stage = service.find_stage(raw_stage)
        if stage is None:
            raise ApiError(400, _("No such stage."), field="stage", code="invalid")
        stmt = stmt.where(Deal.stage_id == stage.id)
    for key, column in (("contact", Deal.contact_id), ("company", Deal.company_id)):
        raw = request.args.get(key, "").strip()
        if raw:
            if not raw.isdigit() or len(raw) > 11:
                raise ApiError(400, _("Enter an id."), field=key, code="invalid")
            stmt = stmt.where(column == int(raw))
    rows, next_cursor = keyset_page(stmt, [Deal.id], page_limit())
    deals = [row[0] for row in rows]
    stages, owners = _stages(), _owners(deals)
    return envelope([deal_to_dict(d, stages, owners) for d in deals], next_cursor)


@bp.post("/api/v1/deals")
@require("write")
def deals_create():
    """Create a deal (at the top of its stage; the first stage when none is given)."""
    body = json_body()
    only_keys(body, DEAL_KEYS - {"version"})
    try:
        deal = service.create_deal(body, actor=actor(), via="api")
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    commit()
    return _one(deal, 201)


@bp.get("/api/v1/deals/<int:deal_id>")
@require("read")
def deals_get(deal_id: int):
    """One deal."""
    return _one(_get(deal_id))


@bp.patch("/api/v1/deals/<int:deal_id>")
@require("write")
def deals_patch(deal_id: int):
    """Change the fields given (null clears); a stale "version" (or If-Match) is a 409."""
    deal = _get(deal_id)
    body = json_body()
    only_keys(body, DEAL_KEYS)
    version = _version(body)
    try:
        service.update_deal(deal, body, expected_version=version, actor=actor(), via="api")
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    commit()
    return _one(deal)


@bp.delete("/api/v1/deals/<int:deal_id>")
@require("write")
def deals_delete(deal_id: int):
    """Delete a deal (its timeline activities stay); If-Match guards against a stale read."""
    deal = _get(deal_id)
    service.delete_deal(deal, expected_version=_version({}), actor=actor(), via="api")
    commit()
    return "", 204


@bp.post("/api/v1/deals/<int:deal_id>/move")
@require("write")
def deals_move(deal_id: int):
    """Move a deal to a stage (id or name) at a 0-based position in that column."""
    deal = _get(deal_id)
    body = json_body()
    only_keys(body, {"stage", "position", "version"})
    version = _version(body)
    errors: dict[str, str] = {}
    stage = service.find_stage(body["stage"]) if "stage" in body else None
    if stage is None:
        errors["stage"] = _("No such stage.") if "stage" in body else _("Required.")
    position = body.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        errors["position"] = _("Enter a whole number, 0 or more.")
    if errors:
        raise invalid(errors)
    service.move_deal(
        deal, stage, index=position, expected_version=version, actor=actor(), via="api"
    )
    commit()
    return _one(deal)


# ------------------------------------------------------------------ stages


def stage_to_dict(stage: Stage, counts: dict[int, int]) -> dict[str, Any]:
    return {
        "id": stage.id,
        "name": stage.name,
        "outcome": stage.outcome,
        "position": stage.position,
        "deal_count": counts.get(stage.id, 0),
    }


def _get_stage(stage_id: int) -> Stage:
    stage = db.session.get(Stage, stage_id)
    if stage is None:
        raise ApiError(404, _("No stage with id %(id)s.", id=stage_id))
    return stage


def _stage_answer(stage: Stage, status: int = 200):
    counts = {stage.id: db.session.scalar(select(func.count()).where(Deal.stage_id == stage.id))}
    return make_response(jsonify(stage_to_dict(stage, counts)), status)


@bp.get("/api/v1/stages")
@require("read")
def stages_list():
    """Every stage in board order, with its number of deals (never more than one page)."""
    check_args(set())
    counts = stage_admin.deal_counts()
    return envelope([stage_to_dict(s, counts) for s in stage_admin.all_stages()], None)


@bp.post("/api/v1/stages")
@require("admin")
def stages_create():
    """Add a stage (at the end, or at "position")."""
    body = json_body()
    only_keys(body, {"name", "outcome", "position"})
    try:
        stage = stage_admin.create_stage(body, actor=actor(), via="api")
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    commit()
    return _stage_answer(stage, 201)


@bp.patch("/api/v1/stages/<int:stage_id>")
@require("admin")
def stages_patch(stage_id: int):
    """Rename a stage, mark it open/won/lost, or move it to a 0-based "position"."""
    stage = _get_stage(stage_id)
    body = json_body()
    only_keys(body, {"name", "outcome", "position"})
    try:
        stage_admin.update_stage(stage, body, actor=actor(), via="api")
    except ValidationFailed as exc:
        raise invalid(exc.errors) from None
    commit()
    return _stage_answer(stage)


@bp.delete("/api/v1/stages/<int:stage_id>")
@require("admin")
def stages_delete(stage_id: int):
    """Delete a stage that holds no deal (409 otherwise, and for the last stage)."""
    stage = _get_stage(stage_id)
    try:
        stage_admin.delete_stage(stage, actor=actor(), via="api")
    except stage_admin.StageRefused as exc:
        raise ApiError(409, tr(exc.message), code="not_empty", deals=exc.deals) from None
    commit()
    return "", 204
