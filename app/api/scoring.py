"""/api/v1: the scoring endpoints (thin: the logic lives in app.scoring).

Rules, the threshold and "recompute" are for admins; a contact's score with the rules
that make it is for every role.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response
from flask_babel import gettext as _

from app import audit
from app.api import bp
from app.api.common import ApiError, check_args, commit, json_body, only_keys, validation_error
from app.auth.permissions import actor, require
from app.extensions import db
from app.scoring import rules as scoring
from app.scoring import service
from app.scoring.models import ScoringRule
from app.scoring.rules import RuleInvalid
from app.segments.tree import TreeError
from app.templating import tr


def rule_to_dict(rule: ScoringRule) -> dict[str, Any]:
    """The API form of a rule."""
    return {
        "id": rule.id,
        **{key: getattr(rule, key) for key in sorted(scoring.KEYS)},
        "position": rule.position,
        "created_at": audit.jsonable(rule.created_at),
        "updated_at": audit.jsonable(rule.updated_at),
    }


def _invalid(exc: Exception) -> ApiError:
    if isinstance(exc, TreeError):
        message = tr(exc.message)
        return ApiError(
            422,
            f"{exc.path}: {message}" if exc.path else message,
            field="condition",
            code="invalid",
            path=exc.path,
        )
    assert isinstance(exc, RuleInvalid)
    return validation_error(exc.errors)


def _get(rule_id: int) -> ScoringRule:
    rule = db.session.get(ScoringRule, rule_id)
    if rule is None:
        raise ApiError(404, _("No scoring rule with id %(id)s.", id=rule_id))
    return rule


@bp.get("/api/v1/scoring/rules")
@require("admin")
def scoring_rules_list():
    """Every scoring rule, in their order (a short list: no paging)."""
    check_args(set())
    rules = service.all_rules(db.session)
    return jsonify({"data": [rule_to_dict(r) for r in rules], "next_cursor": None})


@bp.post("/api/v1/scoring/rules")
@require("admin")
def scoring_rules_create():
    """Add a scoring rule; every score is recomputed by a background job."""
    body = json_body()
    try:
        rule = service.create_rule(db.session, body, actor=actor(), via="api")
    except (RuleInvalid, TreeError) as exc:
        raise _invalid(exc) from None
    commit()
    return make_response(jsonify(rule_to_dict(rule)), 201)


@bp.get("/api/v1/scoring/rules/<int:rule_id>")
@require("admin")
def scoring_rules_get(rule_id: int):
    """One scoring rule."""
    return jsonify(rule_to_dict(_get(rule_id)))


@bp.patch("/api/v1/scoring/rules/<int:rule_id>")
@require("admin")
def scoring_rules_patch(rule_id: int):
    """Change the values given; scores are recomputed when they can change."""
    rule = _get(rule_id)
    body = json_body()
    try:
        service.update_rule(db.session, rule, body, actor=actor(), via="api")
    except (RuleInvalid, TreeError) as exc:
        raise _invalid(exc) from None
    commit()
    return jsonify(rule_to_dict(rule))


@bp.delete("/api/v1/scoring/rules/<int:rule_id>")
@require("admin")
def scoring_rules_delete(rule_id: int):
    """Delete a scoring rule; scores are recomputed."""
    service.delete_rule(db.session, _get(rule_id), actor=actor(), via="api")
    commit()
    return "", 204


@bp.get("/api/v1/scoring/settings")
@require("admin")
def scoring_settings_get():
    """The score threshold (null: none)."""
    return jsonify({"threshold": service.get_threshold(db.session)})


@bp.patch("/api/v1/scoring/settings")
@require("admin")
def scoring_settings_patch():
    """Set the score threshold (1-100, or null for none)."""
    body = json_body()
    only_keys(body, {"threshold"})
    if "threshold" in body:
        value = body["threshold"]
        if isinstance(value, str):  # JSON says what it means: a number or null
            raise validation_error({"threshold": _("Expected a whole number.")})
        try:
            service.set_threshold(db.session, value, actor=actor(), via="api")
        except RuleInvalid as exc:
            raise validation_error(exc.errors) from None
    commit()
    return jsonify({"threshold": service.get_threshold(db.session)})


@bp.post("/api/v1/scoring/recompute")
@require("admin")
def scoring_recompute():
    """Recompute every contact's score in a background job; answers the job."""
    job = service.request_recompute(db.session, reason="manual", actor=actor())
    commit()
    return make_response(jsonify({"job_id": job.id, "status": job.status}), 202)


@bp.get("/api/v1/contacts/<int:contact_id>/score")
@require("read")
def contacts_score(contact_id: int):
    """A contact's lead score and the rules that give it its points."""
    check_args(set())
    found = service.explain(db.session, contact_id)
    if found is None:
        raise ApiError(404, _("No contact with id %(id)s.", id=contact_id))
    out: dict[str, Any] = {
        "score": found.value,
        "stored_score": found.stored,
        "threshold": found.threshold,
        "computed": found.score is not None,
        "total": found.score.total if found.score is not None else None,
        "rules": [],
    }
    for line in found.score.lines if found.score is not None else ():
        item: dict[str, Any] = {"id": line.rule_id, "name": line.name, "points": line.points}
        if line.kind == "activity":
            item.update(found=line.found, counted=line.counted, decayed=line.decayed)
        out["rules"].append(item)
    return jsonify(out)
