"""Segment pages: the list (counts loaded as rows come into view), the builder (new and
edit), its live count, and "save the contact list's filter as a segment".

The builder is one form whose inputs are named after the rows' paths (see
app.segments.form). Each button (add a condition or a group, remove) and each change
of a row's shape (field, operator, kind) posts the whole form to `builder`, which
rebuilds the rows on the server and answers the rows block to htmx or the whole page
to a browser without JavaScript. Saving is a normal form post.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from zoneinfo import available_timezones

from flask import Response, abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from app.auth.models import User
from app.auth.permissions import actor, require
from app.companies.models import Company
from app.contacts.fields import BY_NAME, FIELDS, ValidationFailed
from app.contacts.models import Tag
from app.contacts.query import parse_args
from app.contacts.related import custom_field_infos
from app.contacts.routes import KIND_LABELS
from app.extensions import db, reads_only
from app.htmx import is_htmx, redirect, trigger
from app.i18n import N_
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList
from app.lists.service import STATUS_LABELS
from app.segments import bp, form, service
from app.segments.compile import custom_field_types
from app.segments.from_query import from_query
from app.segments.models import Segment
from app.segments.tree import (
    AGGREGATES,
    COUNT_OPS,
    FIELD_OPERATORS,
    WHERE_OPS,
    CustomFieldType,
    TreeError,
    field_type,
)
from app.timeline.models import ACTIVITY_KINDS

OP_LABELS = {
    "eq": N_("is"),
    "neq": N_("is not"),
    "contains": N_("contains"),
    "not_contains": N_("does not contain"),
    "starts_with": N_("starts with"),
    "ends_with": N_("ends with"),
    "is_set": N_("is set"),
    "is_not_set": N_("is empty"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "gt": N_("is more than"),
    "gte": N_("is at least"),
    "lt": N_("is less than"),
    "lte": N_("is at most"),
    "between": N_("is between"),
    "before": N_("is before"),
    "after": N_("is after"),
    "within_last_days": N_("is within the last … days"),
    "more_than_days_ago": N_("is more than … days ago"),
    "is_true": N_("is yes"),
    "is_false": N_("is no"),
    "contains_any": N_("contains any of"),
    "contains_all": N_("contains all of"),
}
COUNT_OP_LABELS = {
    "eq": N_("exactly"),
    "neq": N_("not exactly"),
    "gt": N_("more than"),
    "gte": N_("at least"),
    "lt": N_("fewer than"),
    "lte": N_("at most"),
    "between": N_("between"),
}
AGGREGATE_LABELS = {
    "count": N_("number of events"),
    "sum": N_("total value"),
    "avg": N_("average value"),
    "min": N_("smallest value"),
    "max": N_("largest value"),
}
KIND_CHOICES = {
    "field": N_("Field"),
    "list": N_("List membership"),
    "activity": N_("Activity"),
    "event": N_("Custom event"),
}
MAX_OPTIONS = 500
TIMEZONES = sorted(available_timezones())


# ---------------------------------------------------------------- helpers


def _get(segment_id: int) -> Segment:
    segment = service.get_segment(segment_id)
    if segment is None:
        abort(404)
    return segment


def _fragment(body: str, status: int = 200) -> Response:
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def _field_choices(types: dict[str, CustomFieldType]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The fields a condition can test, in groups (labels of standard ones translated)."""
    standard = [(f.name, _(f.label)) for f in FIELDS if field_type(f.name) is not None]
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


def _options(types: dict[str, CustomFieldType], needed: set[str]) -> dict[str, list]:
    """The choices a value can take, by field, for the fields the rows use."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name in needed:
        spec = BY_NAME.get(name)
        if spec is not None and spec.choices:
            out[name] = [(k, _(label)) for k, label in spec.choices.items()]
        elif name == "tags":
            tags = db.session.scalars(select(Tag.name).order_by(Tag.key).limit(MAX_OPTIONS))
            out[name] = [(t, t) for t in tags]
        elif name == "owner":
            rows = db.session.execute(
                select(User.id, User.name, User.email).order_by(User.email).limit(MAX_OPTIONS)
            )
            out[name] = [(str(uid), uname or email) for uid, uname, email in rows]
        elif name == "company":
            rows = db.session.execute(
                select(Company.id, Company.name).order_by(Company.name).limit(MAX_OPTIONS)
            )
            out[name] = [(str(cid), cname) for cid, cname in rows]
        elif name.startswith("custom.") and name[7:] in types and types[name[7:]].options:
            out[name] = [(o, o) for o in types[name[7:]].options]
    return out


def _lists() -> list[tuple[str, str]]:
    rows = db.session.execute(select(ContactList.id, ContactList.name).order_by(ContactList.name))
    return [(str(lid), name) for lid, name in rows]


def _list_ids_by_name(lists: list[tuple[str, str]]) -> dict[str, str]:
    return {name.casefold(): lid for lid, name in lists}


def _prepare(root: form.Row, types: dict[str, CustomFieldType]) -> dict[str, Any]:
    """Normalise the rows (operators fit their field) and describe each field row's inputs."""
    form.normalise(root, lambda name: field_type(name, types), FIELD_OPERATORS)
    lists = _lists()
    by_name = _list_ids_by_name(lists)
    for row in root.walk():
        # A list named in the tree (by the API) shows as its id in the select.
        if row.kind == "list" and row.get("list") and not row.get("list").isdigit():
            row.set("list", by_name.get(row.get("list").casefold(), row.get("list")))
    needed = {r.get("field") for r in root.walk() if r.kind == "field"}
    options = _options(types, needed)
    inputs: dict[str, dict[str, Any]] = {}
    for row in root.walk():
        if row.kind != "field":
            continue
        name = row.get("field")
        ftype = field_type(name, types)
        choices = list(options.get(name, []))
        chosen = row.getlist("value")
        if choices:  # a value no longer offered (a deleted tag) stays visible
            known = {value for value, _label in choices}
            choices += [(v, v) for v in chosen if v and v not in known]
        kind, multiple = form.value_input(ftype, row.get("op"), bool(choices))
        inputs[row.path] = {
            "type": ftype,
            "ops": FIELD_OPERATORS.get(ftype or "", ()),
            "input": kind,
            "multiple": multiple,
            "options": choices,
            "between": row.get("op") == "between",
            "text": ", ".join(chosen) if multiple else row.get("value"),
        }
    return {"inputs": inputs, "lists": lists}


def _context(
    root: form.Row,
    *,
    segment: Segment | None = None,
    name: str = "",
    timezone: str = "UTC",
    errors: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
    notices: list[str] | None = None,
    live: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the builder page shows."""
    types = custom_field_types(db.session)
    ctx = _prepare(root, types)
    ctx.update(
        root=root,
        segment=segment,
        name=name,
        timezone=timezone,
        timezones=TIMEZONES,
        errors=errors or {},
        row_errors=row_errors or {},
        notices=notices or [],
        live=live,
        field_groups=_field_choices(types),
        op_labels=OP_LABELS,
        count_ops=COUNT_OPS,
        count_op_labels=COUNT_OP_LABELS,
        where_ops=WHERE_OPS,
        aggregates=AGGREGATES,
        aggregate_labels=AGGREGATE_LABELS,
        activity_kinds=[(k, KIND_LABELS.get(k, k.replace("_", " "))) for k in ACTIVITY_KINDS],
        list_statuses=[(s, STATUS_LABELS[s]) for s in SUBSCRIPTION_STATUSES],
        kind_choices=KIND_CHOICES,
        no_value_ops=form.NO_VALUE_OPS,
        can_write=actor().can("write"),
        save_url=(
            url_for("segments.save", segment_id=segment.id)
            if segment is not None
            else url_for("segments.create")
        ),
    )
    return ctx


def _posted() -> tuple[form.Row, dict[str, Any]]:
    """The rows, name and timezone the builder form posted."""
    root = form.from_form(request.form)
    values = {
        "name": request.form.get("name", "").strip(),
        "timezone": request.form.get("timezone", "").strip() or "UTC",
    }
    return root, values


def _posted_segment() -> Segment | None:
    raw = request.form.get("segment_id", "")
    return service.get_segment(int(raw)) if raw.isdigit() else None


def _tree(root: form.Row) -> form.Built:
    types = custom_field_types(db.session)
    return form.to_tree(root, lambda name: field_type(name, types))


def _evaluate(root: form.Row, timezone: str) -> dict[str, Any]:
    """The live count of the rows, or the first error with the row it points into."""
    built = _tree(root)
    try:
        return {"count": service.preview(db.session, built.tree, timezone)}
    except TreeError as exc:
        return {"error": exc.message, "path": exc.path, "row": form.error_row(built, exc.path)}
    except ValidationFailed as exc:
        return {"error": next(iter(exc.errors.values())), "path": "timezone", "row": None}


def _page(ctx: dict[str, Any], status: int = 200) -> Response:
    response = make_response(render_template("segments/builder.html", **ctx), status)
    response.vary.add("HX-Request")
    return response


# ---------------------------------------------------------------- the list


@bp.route("/")
@require("read")
def index():
    segments = list(db.session.scalars(select(Segment).order_by(Segment.name)))
    return render_template("segments/index.html", segments=segments, can_write=actor().can("write"))


@bp.route("/<int:segment_id>/count")
@require("read")
def row_count(segment_id: int):
    segment = _get(segment_id)
    total, error = service.try_count(db.session, segment)
    body = render_block(
        "segments/index.html", "count", total=total, error=error, segment_id=segment.id
    )
    return _fragment(body)


# ---------------------------------------------------------------- the builder


@bp.route("/new")
@require("read")
def new():
    """An empty builder, or one holding the contact list's filter (`filter`: its query)."""
    notices: list[str] = []
    root = form.empty_root()
    raw = request.args.get("filter")
    if raw is not None:
        infos = custom_field_infos(db.session)
        args = parse_qs(raw, keep_blank_values=False)
        cq, _ignored = parse_args(args, infos, me_id=actor().id, session=db.session)
        list_names = dict(db.session.execute(select(ContactList.id, ContactList.name)).all())
        segment_tree = None
        if cq.segment_id is not None:
            base = service.get_segment(cq.segment_id)
            segment_tree = base.conditions if base is not None else None
        tree, notices = from_query(cq, list_names=list_names, segment_tree=segment_tree)
        root = form.from_tree(tree)
        if not root.children:
            root = form.empty_root()
    return _page(_context(root, notices=notices))


@bp.route("/new", methods=["POST"])
@require("write")
def create():
    root, values = _posted()
    built = _tree(root)
    try:
        segment = service.create_segment(
            {**values, "conditions": built.tree}, actor=actor(), via="web"
        )
        db.session.commit()
    except (TreeError, ValidationFailed) as exc:
        db.session.rollback()
        return _refused(root, values, built, exc, None)
    flash(_('Segment "%(name)s" saved.', name=segment.name), "success")
    return redirect(url_for("segments.show", segment_id=segment.id))


def _refused(root, values, built, exc, segment: Segment | None) -> Response:
    errors: dict[str, str] = {}
    row_errors: dict[str, str] = {}
    if isinstance(exc, ValidationFailed):
        errors = dict(exc.errors)
    else:
        row = form.error_row(built, exc.path) or form.ROOT
        row_errors[row] = exc.message
        errors["conditions"] = exc.message
        errors["conditions_path"] = exc.path
    ctx = _context(root, segment=segment, errors=errors, row_errors=row_errors, **values)
    return _page(ctx, 422)


@bp.route("/<int:segment_id>")
@require("read")
def show(segment_id: int):
    segment = _get(segment_id)
    root = form.from_tree(segment.conditions)
    ctx = _context(root, segment=segment, name=segment.name, timezone=segment.timezone or "UTC")
    return _page(ctx)


@bp.route("/<int:segment_id>", methods=["POST"])
@require("write")
def save(segment_id: int):
    segment = _get(segment_id)
    root, values = _posted()
    built = _tree(root)
    try:
        service.update_segment(
            segment, {**values, "conditions": built.tree}, actor=actor(), via="web"
        )
        db.session.commit()
    except (TreeError, ValidationFailed) as exc:
        db.session.rollback()
        return _refused(root, values, built, exc, _get(segment_id))
    flash(_('Segment "%(name)s" saved.', name=segment.name), "success")
    return redirect(url_for("segments.show", segment_id=segment.id))


@bp.route("/builder", methods=["POST"])
@reads_only
@require("read")
def builder():
    """Apply a builder button (or a change of field, operator or kind) to the posted rows."""
    root, values = _posted()
    root = form.apply(root, request.form.get("_action", "refresh"))
    segment = _posted_segment()
    if is_htmx():
        ctx = _context(root, segment=segment, **values)
        body = render_block("segments/builder.html", "rows", **ctx)
        return trigger(_fragment(body), "segment-changed")
    ctx = _context(root, segment=segment, live=_evaluate(root, values["timezone"]), **values)
    return _page(ctx)


@bp.route("/preview", methods=["POST"])
@reads_only
@require("read")
def preview():
    """The live count of the posted rows (or the error, with the row it concerns)."""
    root, values = _posted()
    live = _evaluate(root, values["timezone"])
    return _fragment(render_block("segments/builder.html", "live_count", live=live))


# ---------------------------------------------------------------- delete


@bp.route("/<int:segment_id>/delete")
@require("write")
def confirm_delete(segment_id: int):
    return render_template("segments/delete.html", segment=_get(segment_id))


@bp.route("/<int:segment_id>/delete", methods=["POST"])
@require("write")
def delete(segment_id: int):
    segment = _get(segment_id)
    name = segment.name
    service.delete_segment(segment, actor=actor(), via="web")
    db.session.commit()
    flash(_('Segment "%(name)s" deleted.', name=name), "success")
    return redirect(url_for("segments.index"))
