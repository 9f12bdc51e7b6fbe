"""Lead scoring pages (admins): the rules with their points, order and switch, the rule
form, the threshold and "Recompute now"; and (for everyone) the score explanation card
of the contact page, refreshed by htmx when the contact changes.

The rule form's shape (kind, condition mode, field, operator) is rebuilt on the server:
a change posts the form to `refresh`, which answers the form's fields block to htmx,
or the whole page to a browser without JavaScript ("Update the form" button).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from app.auth.models import User
from app.auth.permissions import actor, require
from app.companies.models import Company
from app.contacts.fields import BY_NAME, FIELDS
from app.contacts.models import Tag
from app.contacts.related import custom_field_infos
from app.contacts.routes import KIND_LABELS
from app.extensions import db, reads_only
from app.htmx import is_htmx, redirect, render
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList
from app.lists.service import STATUS_LABELS
from app.scoring import bp, describe, service
from app.scoring import form as ruleform
from app.scoring import rules as scoring
from app.scoring.models import ScoringRule
from app.scoring.rules import RuleInvalid
from app.segments import form as segform
from app.segments.compile import custom_field_types
from app.segments.routes import OP_LABELS
from app.segments.tree import FIELD_OPERATORS, CustomFieldType, TreeError, field_type

MAX_OPTIONS = 500


# ---------------------------------------------------------------- helpers


def _types() -> dict[str, CustomFieldType]:
    return custom_field_types(db.session)


def _field_type(types: dict[str, CustomFieldType]):
    return lambda name: None if name == "lead_score" else field_type(name, types)


def _field_groups(types: dict[str, CustomFieldType]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The fields a rule can test, grouped (the lead score itself left out)."""
    standard = [
        (f.name, _(f.label))
        for f in FIELDS
        if f.name != "lead_score" and field_type(f.name) is not None
    ]
    standard.append(("tags", _("Tags")))
    custom = [
        (f"custom.{info.name}", info.label or info.name)
        for info in custom_field_infos(db.session)
        if field_type(f"custom.{info.name}", types) is not None
    ]
    groups = [(_("Contact fields"), standard)]
    if custom:
        groups.append((_("Custom fields"), custom))
    return groups


def _options(types: dict[str, CustomFieldType], name: str) -> list[tuple[str, str]]:
    """The values a field can take, when they are few enough to choose from."""
    spec = BY_NAME.get(name)
    if spec is not None and spec.choices:
        return [(k, _(label)) for k, label in spec.choices.items()]
    if name == "tags":
        tags = db.session.scalars(select(Tag.name).order_by(Tag.key).limit(MAX_OPTIONS))
        return [(t, t) for t in tags]
    if name == "owner":
        rows = db.session.execute(
            select(User.id, User.name, User.email).order_by(User.email).limit(MAX_OPTIONS)
        )
        return [(str(uid), uname or email) for uid, uname, email in rows]
    if name == "company":
        rows = db.session.execute(
            select(Company.id, Company.name).order_by(Company.name).limit(MAX_OPTIONS)
        )
        return [(str(cid), cname) for cid, cname in rows]
    if name.startswith("custom.") and name[7:] in types and types[name[7:]].options:
        return [(o, o) for o in types[name[7:]].options]
    return []


def _form_context(rule_form: ruleform.RuleForm, rule: ScoringRule | None) -> dict[str, Any]:
    """Everything the rule form shows."""
    types = _types()
    ftype = _field_type(types)
    segform.normalise(rule_form.root, ftype, FIELD_OPERATORS)
    row = rule_form.row
    lists = [
        (str(lid), name)
        for lid, name in db.session.execute(
            select(ContactList.id, ContactList.name).order_by(ContactList.name)
        )
    ]
    if row.kind == "list" and row.get("list") and not row.get("list").isdigit():
        by_name = {name.casefold(): lid for lid, name in lists}
        row.set("list", by_name.get(row.get("list").casefold(), row.get("list")))
    spec: dict[str, Any] = {}
    if row.kind == "field":
        name = row.get("field")
        choices = _options(types, name)
        chosen = row.getlist("value")
        if choices:
            known = {value for value, _label in choices}
            choices += [(v, v) for v in chosen if v and v not in known]
        kind, multiple = segform.value_input(ftype(name), row.get("op"), bool(choices))
        spec = {
            "ops": FIELD_OPERATORS.get(ftype(name) or "", ()),
            "input": kind,
            "multiple": multiple,
            "options": choices,
            "between": row.get("op") == "between",
            "text": ", ".join(chosen) if multiple else row.get("value"),
        }
    return {
        "f": rule_form,
        "row": row,
        "spec": spec,
        "rule": rule,
        "field_groups": _field_groups(types),
        "op_labels": OP_LABELS,
        "lists": lists,
        "list_statuses": [(s, STATUS_LABELS[s]) for s in SUBSCRIPTION_STATUSES],
        "activity_kinds": [(k, KIND_LABELS.get(k, k)) for k in scoring.SCORABLE_KINDS],
        "max_points": scoring.MAX_POINTS,
        "max_count": scoring.MAX_COUNT,
        "max_days": scoring.MAX_DAYS,
        "action": (url_for("scoring.save", rule_id=rule.id) if rule else url_for("scoring.create")),
    }


def _form_page(rule_form: ruleform.RuleForm, rule: ScoringRule | None, status: int = 200):
    body = render_template("scoring/rule.html", **_form_context(rule_form, rule))
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def _refused(rule_form: ruleform.RuleForm, rule: ScoringRule | None, exc: Exception):
    """The form again with the reasons it was not saved (nothing was written)."""
    db.session.rollback()
    if isinstance(exc, RuleInvalid):
        rule_form.errors.update(exc.errors)
    elif isinstance(exc, TreeError):
        rule_form.errors["condition"] = exc.message
        if exc.path:
            rule_form.errors["condition_path"] = exc.path
    else:
        rule_form.errors["condition"] = str(exc.args[0]) if exc.args else str(exc)
    return _form_page(rule_form, rule, 422)


# ---------------------------------------------------------------- the rules page


def _index_page(threshold: Any = None, threshold_error: str | None = None, status: int = 200):
    rules = service.all_rules(db.session)
    plan = service.prepare(db.session)
    return render(
        "scoring/index.html",
        status=status,
        rules=rules,
        descriptions=describe.describe_rules(rules),
        broken=plan.broken,
        threshold=plan.threshold if threshold is None else threshold,
        threshold_error=threshold_error,
        job=service.latest_job(db.session),
        enabled=any(r.enabled for r in rules),
    )


@bp.get("/")
@require("admin")
def index():
    """The rules, the threshold and the last recompute (htmx polls its status block)."""
    if is_htmx():
        return render("scoring/index.html", "job_status", job=service.latest_job(db.session))
    return _index_page()


@bp.post("/threshold")
@require("admin")
def threshold():
    raw = request.form.get("threshold", "")
    try:
        value = service.set_threshold(db.session, raw, actor=actor(), via="web")
    except RuleInvalid as exc:
        db.session.rollback()
        return _index_page(raw, exc.errors.get("threshold"), 422)
    db.session.commit()
    if value is None:
        flash(_("No threshold: no threshold activity will be recorded."), "success")
    else:
        flash(_("Threshold set to %(n)s.", n=value), "success")
    return redirect(url_for("scoring.index"))


@bp.post("/recompute")
@require("admin")
def recompute():
    job = service.request_recompute(db.session, reason="manual", actor=actor())
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.post("/rules/<int:rule_id>/toggle")
@require("admin")
def toggle(rule_id: int):
    rule = db.get_or_404(ScoringRule, rule_id)
    service.update_rule(db.session, rule, {"enabled": not rule.enabled}, actor=actor())
    db.session.commit()
    if rule.enabled:
        flash(_('Rule "%(name)s" enabled; scores are being recomputed.', name=rule.name), "success")
    else:
        flash(
            _('Rule "%(name)s" disabled; scores are being recomputed.', name=rule.name), "success"
        )
    return redirect(url_for("scoring.index"))


@bp.post("/rules/<int:rule_id>/move")
@require("admin")
def move(rule_id: int):
    rule = db.get_or_404(ScoringRule, rule_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    service.move_rule(db.session, rule, offset, actor=actor())
    db.session.commit()
    return redirect(url_for("scoring.index") + f"#rule-{rule.id}")


# ---------------------------------------------------------------- the rule form


@bp.get("/rules/new")
@require("admin")
def new():
    kind = request.args.get("kind")
    rule_form = ruleform.RuleForm(kind=kind if kind in scoring.RULE_KINDS else "field")
    return _form_page(rule_form, None)


@bp.post("/rules/new")
@require("admin")
def create():
    rule_form = ruleform.from_post(request.form)
    try:
        data = ruleform.to_data(rule_form, _field_type(_types()))
        rule = service.create_rule(db.session, data, actor=actor(), via="web")
    except (RuleInvalid, TreeError, ValueError) as exc:
        return _refused(rule_form, None, exc)
    db.session.commit()
    flash(_('Rule "%(name)s" added; every score is being recomputed.', name=rule.name), "success")
    return redirect(url_for("scoring.index"))


@bp.get("/rules/<int:rule_id>")
@require("admin")
def edit(rule_id: int):
    rule = db.get_or_404(ScoringRule, rule_id)
    return _form_page(ruleform.from_rule(service.rule_values(rule)), rule)


@bp.post("/rules/<int:rule_id>")
@require("admin")
def save(rule_id: int):
    rule = db.get_or_404(ScoringRule, rule_id)
    rule_form = ruleform.from_post(request.form)
    try:
        data = ruleform.to_data(rule_form, _field_type(_types()))
        changes = service.update_rule(db.session, rule, data, actor=actor(), via="web")
    except (RuleInvalid, TreeError, ValueError) as exc:
        return _refused(rule_form, db.get_or_404(ScoringRule, rule_id), exc)
    db.session.commit()
    if service.rescores(changes, rule):
        flash(
            _('Rule "%(name)s" saved; every score is being recomputed.', name=rule.name), "success"
        )
    else:
        flash(_('Rule "%(name)s" saved.', name=rule.name), "success")
    return redirect(url_for("scoring.index"))


@bp.post("/rules/form")
@reads_only
@require("admin")
def refresh():
    """Rebuild the rule form after a change of its shape (nothing is saved)."""
    rule_form = ruleform.from_post(request.form)
    previous = request.form.get("previous_mode", rule_form.mode)
    ruleform.switch_mode(rule_form, previous, _field_type(_types()))
    raw = request.form.get("rule_id", "")
    rule = db.session.get(ScoringRule, int(raw)) if raw.isdigit() else None
    ctx = _form_context(rule_form, rule)
    if is_htmx():
        response = make_response(render_block("scoring/rule.html", "fields", **ctx))
        response.vary.add("HX-Request")
        return response
    return _form_page(rule_form, rule)


@bp.get("/rules/<int:rule_id>/delete")
@require("admin")
def confirm_delete(rule_id: int):
    return render_template("scoring/delete.html", rule=db.get_or_404(ScoringRule, rule_id))


@bp.post("/rules/<int:rule_id>/delete")
@require("admin")
def delete(rule_id: int):
    rule = db.get_or_404(ScoringRule, rule_id)
    name = rule.name
    service.delete_rule(db.session, rule, actor=actor(), via="web")
    db.session.commit()
    flash(_('Rule "%(name)s" deleted.', name=name), "success")
    return redirect(url_for("scoring.index"))


# ---------------------------------------------------------------- the contact page


@bp.get("/contacts/<int:contact_id>")
@require("read")
def explanation(contact_id: int) -> Response:
    """The score card of a contact page (htmx); a full load goes to the contact page."""
    if not is_htmx():
        return redirect(url_for("contacts.show", contact_id=contact_id) + "#score")
    found = service.explain(db.session, contact_id)
    if found is None:
        abort(404)
    return render("scoring/_explanation.html", score_info=found, contact_id=contact_id)
