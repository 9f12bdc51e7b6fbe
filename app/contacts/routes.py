"""Contact pages: the list (search, filters, sort, keyset pages, count, columns, bulk
actions), the contact page with inline edit per field group, and the create form.

Every view answers a full page to a normal request and the fragment htmx asks for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.auth.models import User
from app.auth.permissions import actor, require
from app.contacts import bp, bulk, forms, listview
from app.contacts.fields import BY_NAME, ValidationFailed, fields_in_group
from app.contacts.models import Contact, Tag
from app.contacts.query import (
    ContactQuery,
    CustomFieldInfo,
    count,
    fetch_page,
    id_select,
    parse_args,
)
from app.contacts.related import Related, custom_field_infos, load_related
from app.contacts.service import (
    ContactLimitReached,
    DuplicateEmail,
    VersionConflict,
    create_contact,
    update_contact,
)
from app.extensions import db
from app.htmx import is_htmx, redirect, render, trigger
from app.i18n import N_
from app.lists.models import ContactList
from app.templating import display

KIND_LABELS = {
    "email_sent": N_("Email sent"),
    "email_received": N_("Email received"),
    "email_opened": N_("Email opened"),
    "email_clicked": N_("Email link clicked"),
    "email_bounced": N_("Email bounced"),
    "complaint": N_("Complaint"),
    "unsubscribe": N_("Unsubscribed"),
    "call": N_("Call"),
    "meeting": N_("Meeting"),
    "note": N_("Note"),
    "task": N_("Task"),
    "form_submit": N_("Form submitted"),
    "deal_created": N_("Deal created"),
    "deal_stage_changed": N_("Deal stage changed"),
    "deal_won": N_("Deal won"),
    "deal_lost": N_("Deal lost"),
    "merge": N_("Merged"),
    "import": N_("Imported"),
    "score_threshold": N_("Lead score threshold"),
    "custom_event": N_("Event"),
}
COLS_KEY = "contact_cols"
SYSTEM_FIELDS = ("created_at", "updated_at", "last_contacted_at", "last_activity_at")


# ---------------------------------------------------------------- helpers


def _owners() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.email)
    )
    return [(uid, name or email) for uid, name, email in rows]


def _lists() -> list[tuple[int, str]]:
    return list(db.session.execute(select(ContactList.id, ContactList.name).order_by("name")))


def _url(state: dict[str, Any]) -> str:
    query = urlencode({k: v for k, v in state.items() if v not in (None, "", [])}, doseq=True)
    return url_for("contacts.index") + ("?" + query if query else "")


def _flash_oob(message: str, category: str = "success") -> str:
    return render_template("contacts/_flash_oob.html", message=message, category=category)


def _list_context(args: dict[str, list[str]]) -> dict[str, Any]:
    """Everything the list page (or its results block) shows for these URL arguments."""
    user = actor()
    infos = custom_field_infos(db.session)
    default_limit = int(current_app.config.get("PAGE_SIZE") or 50)
    cq, notices = parse_args(
        args, infos, me_id=user.id, default_limit=default_limit, session=db.session
    )
    columns = listview.available_columns(infos)
    requested = args.get("cols")
    cols, unknown = listview.choose_columns(requested, session.get(COLS_KEY), columns)
    if requested is not None:
        session[COLS_KEY] = cols
    notices = [*notices, *(_('Ignored unknown column "%(key)s".', key=c) for c in unknown)]
    contacts, next_cursor = fetch_page(db.session, cq, infos)
    rel = load_related(db.session, contacts, custom_fields=infos, only=set(cols))
    state = listview.page_state(
        cq,
        cols=cols if requested is not None else None,
        default_limit=default_limit,
        prev=args.get("_prev") or [],
    )
    previous = listview.previous_page_state(state)
    return {
        "cq": cq,
        "fargs": {k: (v if isinstance(v, list) else [str(v)]) for k, v in state.items()},
        "notices": notices,
        "contacts": contacts,
        "rows": _rows(contacts, cols, columns, rel),
        "rel": rel,
        "columns": columns,
        "cols": cols,
        "infos": infos,
        "state": state,
        "state_query": urlencode(state, doseq=True),
        "next_url": _url(listview.next_page_state(state, next_cursor)) if next_cursor else None,
        "prev_url": _url(previous) if previous is not None else None,
        "first_url": _url(listview.first_page_state(state)) if cq.cursor else None,
        "count_url": url_for("contacts.count_view", **_count_args(state)),
        "sort_url": lambda sort: _url(listview.sorted_state(state, sort)),
        "header_sort": listview.header_sort,
        "owners": _owners(),
        "lists": _lists(),
        "can_write": user.can("write"),
    }


def _rows(contacts, cols: list[str], columns, rel) -> list[tuple[Any, str, list[tuple]]]:
    """Each contact with its name and display-ready cells (css class, kind, value),
    computed here once rather than cell by cell in the template."""
    css = {key: "col-" + key.replace(".", "-") for key in cols}
    out = []
    for c in contacts:
        cells = []
        for key in cols:
            kind = columns[key].kind
            if kind == "company":
                company = rel.companies.get(c.company_id)
                value: Any = company.name if company else ""
            elif kind == "owner":
                owner = rel.owners.get(c.owner_id)
                value = owner.display_name if owner else ""
            elif kind == "tags":
                value = rel.tags.get(c.id, [])
            elif kind == "custom":
                value = display(rel.custom.get(c.id, {}).get(key[3:]))
            elif key == "status":
                kind, value = "status", (c.status, display(c.status, "status"))
            else:
                value = display(getattr(c, key), key)
            cells.append((css[key], kind, value))
        out.append((c, c.full_name or c.email, cells))
    return out


def _count_args(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("cursor", "_prev", "cols", "limit")}


def _panel_context(cq: ContactQuery) -> dict[str, Any]:
    """Choices of the filter panel (full page only: the results block does not need them)."""
    from app.companies.models import Company

    companies = list(
        db.session.execute(select(Company.id, Company.name).order_by(Company.name).limit(300))
    )
    if cq.company_id and cq.company_id not in {c[0] for c in companies}:
        chosen = db.session.get(Company, cq.company_id)
        if chosen is not None:
            companies.append((chosen.id, chosen.name))
    tags = list(db.session.scalars(select(Tag.name).order_by(Tag.key).limit(500)))
    return {
        "companies": companies,
        "all_tags": tags,
        "tag_keys": {t.casefold() for t in cq.tags},
    }


# ---------------------------------------------------------------- the list


@bp.route("/")
@require("read")
def index():
    ctx = _list_context(request.args.to_dict(flat=False))
    if not is_htmx():
        ctx.update(_panel_context(ctx["cq"]))
    return render("contacts/index.html", "results", **ctx)


@bp.route("/count")
@require("read")
def count_view():
    infos = custom_field_infos(db.session)
    cq, _notices = parse_args(request.args.to_dict(flat=False), infos, me_id=actor().id)
    total = count(db.session, cq)
    response = make_response(
        render_block("contacts/index.html", "count", total=total, can_write=actor().can("write"))
    )
    response.vary.add("HX-Request")
    return response


def _bulk_target(form) -> tuple[Any, bool]:
    """The selection of a bulk form: every contact matching its query, or the ticked ids."""
    if form.get("scope") == "all":
        infos = custom_field_infos(db.session)
        args = parse_qs(form.get("query", ""), keep_blank_values=False)
        cq, _notices = parse_args(args, infos, me_id=actor().id)
        return id_select(db.session, cq), True
    ids = [int(i) for i in form.getlist("ids") if i.isdigit()]
    return ids, bool(ids)


BULK_MESSAGES = {
    "tag": lambda n: ngettext("Tagged %(num)s contact.", "Tagged %(num)s contacts.", n),
    "untag": lambda n: ngettext(
        "Removed the tag from %(num)s contact.", "Removed the tag from %(num)s contacts.", n
    ),
    "add_to_list": lambda n: ngettext(
        "Added %(num)s contact to the list.", "Added %(num)s contacts to the list.", n
    ),
    "remove_from_list": lambda n: ngettext(
        "Removed %(num)s contact from the list.", "Removed %(num)s contacts from the list.", n
    ),
    "owner": lambda n: ngettext(
        "Changed the owner of %(num)s contact.", "Changed the owner of %(num)s contacts.", n
    ),
    "status": lambda n: ngettext(
        "Changed the status of %(num)s contact.", "Changed the status of %(num)s contacts.", n
    ),
    "archive": lambda n: ngettext("Archived %(num)s contact.", "Archived %(num)s contacts.", n),
    "restore": lambda n: ngettext("Restored %(num)s contact.", "Restored %(num)s contacts.", n),
    "delete": lambda n: ngettext("Deleted %(num)s contact.", "Deleted %(num)s contacts.", n),
}


@bp.route("/bulk", methods=["POST"])
@require("write")
def bulk_action():
    form = request.form
    action = form.get("action", "")
    query = form.get("query", "")
    back = url_for("contacts.index") + ("?" + query if query else "")
    target, any_selected = _bulk_target(form)
    params = {
        "tag": form.get("bulk_tag", ""),
        "list": form.get("bulk_list", ""),
        "owner": form.get("bulk_owner", ""),
        "status": form.get("bulk_status", ""),
    }
    error = None
    if not any_selected:
        error = _("Select at least one contact first.")
    elif action not in bulk.ACTIONS:
        error = _("Choose an action.")
    elif action == "delete" and form.get("confirm") != "yes":
        ctx = {
            "n": bulk.count_target(target),
            "scope": form.get("scope", ""),
            "ids": form.getlist("ids"),
            "query": query,
            "back": back,
        }
        if is_htmx():
            response = make_response(render_template("contacts/_bulk_confirm.html", **ctx))
            response.headers["HX-Retarget"] = "#bulk-confirm"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return render_template("contacts/confirm_bulk.html", **ctx)
    if error is None:
        try:
            n = bulk.run(action, target, params, actor=actor())
            db.session.commit()
        except bulk.BulkError as exc:
            db.session.rollback()
            error = _(exc.message)
    if error is not None:
        if is_htmx():
            response = make_response(_flash_oob(error, "error"))
            response.headers["HX-Reswap"] = "none"
            return response
        flash(error, "error")
        return redirect(back)
    message = BULK_MESSAGES[action](n)
    if not is_htmx():
        flash(message, "success")
        return redirect(back)
    ctx = _list_context(parse_qs(query, keep_blank_values=False))
    body = render_block("contacts/index.html", "results", **ctx) + _flash_oob(message)
    response = make_response(body)
    return trigger(response, "contacts-changed")


# ---------------------------------------------------------------- create


def _new_context(**extra: Any) -> dict[str, Any]:
    owners = _owners()
    ctx = {
        "inputs": forms.new_form_inputs(owners),
        "values": {"status": "active", "owner": str(actor().id)},
        "errors": {},
        "duplicate": None,
        "limit_error": None,
    }
    ctx.update(extra)
    return ctx


@bp.route("/new", methods=["GET"])
@require("write")
def new():
    return render_template("contacts/new.html", **_new_context())


@bp.route("/new", methods=["POST"])
@require("write")
def create():
    from app.dedupe.check import possible_duplicates

    inputs = forms.new_form_inputs(_owners())
    submitted = forms.submitted_values(inputs, request.form)
    data = {k: v for k, v in forms.form_data(inputs, request.form).items() if v not in ("", [])}
    errors: dict[str, str] = {}
    duplicate = limit_error = None
    try:
        contact = create_contact(data, actor=actor(), via="web")
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        errors = {k: _(v) for k, v in exc.errors.items()}
    except DuplicateEmail as exc:
        db.session.rollback()
        existing = db.session.get(Contact, exc.existing_id)
        name = existing.full_name if existing is not None else ""
        duplicate = {"id": exc.existing_id, "email": exc.email, "name": name}
        errors = {"email": _("A contact with this email already exists.")}
    except ContactLimitReached as exc:
        db.session.rollback()
        if exc.remaining == 0:
            limit_error = _(
                "This Kontor is limited to %(limit)s contacts and is full: no more contact fits.",
                limit=exc.limit,
            )
        else:
            limit_error = ngettext(
                "This Kontor is limited to %(limit)s contacts: %(num)s more fits.",
                "This Kontor is limited to %(limit)s contacts: %(num)s more fit.",
                exc.remaining,
                limit=exc.limit,
            )
    else:
        flash(_("Contact created."), "success")
        similar = possible_duplicates(submitted, exclude_ids=[contact.id], limit=1)
        if similar:
            flash(
                _(
                    "It may be a duplicate of %(name)s (%(email)s).",
                    name=similar[0]["name"],
                    email=similar[0]["email"],
                ),
                "info",
            )
        return redirect(url_for("contacts.show", contact_id=contact.id))
    possible = [] if duplicate else possible_duplicates(submitted)
    ctx = _new_context(
        values=submitted,
        errors=errors,
        duplicate=duplicate,
        limit_error=limit_error,
        possible=possible,
    )
    return render_template("contacts/new.html", **ctx), 422


# ---------------------------------------------------------------- the contact page


def _read_rows(
    group: str, contact: Contact, rel: Related, infos: list[CustomFieldInfo]
) -> list[dict[str, Any]]:
    """The label/value rows a group shows in read mode."""
    rows: list[dict[str, Any]] = []
    if group == "custom":
        custom = rel.custom.get(contact.id, {})
        for info in infos:
            value = forms.custom_display(info, custom.get(info.name))
            rows.append(
                {"label": info.label or info.name, "value": value, "field": f"custom.{info.name}"}
            )
        return rows
    if group == "system":
        for name in SYSTEM_FIELDS:
            spec = BY_NAME[name]
            rows.append({"label": _(spec.label), "value": getattr(contact, name), "field": name})
        rows.append({"label": "ID", "value": contact.id, "field": None})
        rows.append({"label": _("Version"), "value": contact.version, "field": None})
        if contact.archived_at:
            rows.append({"label": _("Archived"), "value": contact.archived_at, "field": None})
        return rows
    for spec in fields_in_group(group):
        if not spec.editable:
            continue
        row: dict[str, Any] = {"label": _(spec.label), "field": spec.name, "href": None}
        if spec.name == "company":
            company = rel.companies.get(contact.company_id) if contact.company_id else None
            row["value"] = company.name if company else None
        elif spec.name == "owner":
            owner = rel.owners.get(contact.owner_id) if contact.owner_id else None
            row["value"] = owner.display_name if owner else None
        elif spec.type == "ref":
            other = rel.contacts.get(getattr(contact, spec.db_column) or 0)
            row["value"] = (other.full_name or other.email) if other else None
            if other is not None:
                row["href"] = url_for("contacts.show", contact_id=other.id)
        else:
            row["value"] = getattr(contact, spec.db_column)
        rows.append(row)
    if group == "basic":
        rows.append({"label": _("Tags"), "value": rel.tags.get(contact.id, []), "field": "tags"})
    return rows


def _page_context(contact: Contact) -> dict[str, Any]:
    """The contact page's data: groups (read rows and inputs), values, related rows."""
    infos = custom_field_infos(db.session)
    rel = load_related(db.session, [contact], custom_fields=infos, with_refs=True)
    owners = _owners()
    company = rel.companies.get(contact.company_id) if contact.company_id else None
    refs = {
        name: (rel.contacts[getattr(contact, BY_NAME[name].db_column)].email)
        if getattr(contact, BY_NAME[name].db_column) in rel.contacts
        else None
        for name in ("reports_to", "referred_by")
    }
    values = forms.input_values(
        contact,
        company_name=company.name if company else None,
        ref_emails=refs,
        tags=rel.tags.get(contact.id, []),
        custom=rel.custom.get(contact.id, {}),
        custom_fields=infos,
    )
    groups = []
    for key in forms.ALL_GROUPS:
        if key == "custom" and not infos:
            continue
        groups.append(
            {
                "key": key,
                "label": forms.group_label(key),
                "rows": _read_rows(key, contact, rel, infos),
                "inputs": forms.group_inputs(key, infos, owners) if key != "system" else [],
                "editable": key != "system",
            }
        )
    owner = rel.owners.get(contact.owner_id) if contact.owner_id else None
    return {
        "contact": contact,
        "company": company,
        "owner": owner,
        "groups": {g["key"]: g for g in groups},
        "group_order": [g["key"] for g in groups],
        "values": values,
        "infos": infos,
        "can_write": actor().can("write"),
        "errors": {},
        "conflict": None,
        "editing": None,
        "oob": False,
    }


def _timeline_context(contact: Contact, infos: list[CustomFieldInfo]) -> dict[str, Any]:
    """The side column: the timeline (app.timeline) and the contact's relationships."""
    from app.companies.people import contact_relations
    from app.timeline.routes import contact_timeline

    return {
        "tl": contact_timeline(contact, request.args, infos),
        "relations": contact_relations(db.session, contact.id),
    }


def system_group_oob(contact_id: int) -> str:
    """The System group (last activity, last contacted...) as an out-of-band swap."""
    ctx = _page_context(db.get_or_404(Contact, contact_id))
    return render_template(
        "contacts/_group.html", g=ctx["groups"]["system"], mode="read", **{**ctx, "oob": True}
    )


@bp.route("/<int:contact_id>")
@require("read")
def show(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    ctx = _page_context(contact)
    editing = request.args.get("edit")
    if ctx["can_write"] and editing in ctx["groups"] and ctx["groups"][editing]["editable"]:
        ctx["editing"] = editing
    ctx.update(_timeline_context(contact, ctx["infos"]))
    return render_template("contacts/show.html", **ctx)


def _group_response(ctx: dict[str, Any], group: str, mode: str) -> str:
    return render_template("contacts/_group.html", g=ctx["groups"][group], mode=mode, **ctx)


@bp.route("/<int:contact_id>/groups/<group>")
@require("read")
def group_view(contact_id: int, group: str):
    contact = db.get_or_404(Contact, contact_id)
    ctx = _page_context(contact)
    if group not in ctx["groups"]:
        abort(404)
    if not is_htmx():
        return redirect(url_for("contacts.show", contact_id=contact_id) + f"#group-{group}")
    return _group_response(ctx, group, "read")


@bp.route("/<int:contact_id>/groups/<group>/edit")
@require("write")
def group_edit(contact_id: int, group: str):
    contact = db.get_or_404(Contact, contact_id)
    ctx = _page_context(contact)
    if group not in ctx["groups"] or not ctx["groups"][group]["editable"]:
        abort(404)
    if not is_htmx():
        return redirect(url_for("contacts.show", contact_id=contact_id, edit=group))
    return _group_response(ctx, group, "edit")


@bp.route("/<int:contact_id>/groups/<group>", methods=["POST"])
@require("write")
def group_save(contact_id: int, group: str):
    contact = db.get_or_404(Contact, contact_id)
    ctx = _page_context(contact)
    if group not in ctx["groups"] or not ctx["groups"][group]["editable"]:
        abort(404)
    inputs = ctx["groups"][group]["inputs"]
    data = forms.form_data(inputs, request.form)
    raw_version = request.form.get("version", "")
    expected = int(raw_version) if raw_version.isdigit() else -1
    errors: dict[str, str] = {}
    conflict = False
    try:
        update_contact(contact, data, actor=actor(), via="web", expected_version=expected)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        errors = {k: _(v) for k, v in exc.errors.items()}
    except DuplicateEmail as exc:
        db.session.rollback()
        errors = {"email": _("Another contact has this email.")}
        ctx["duplicate"] = {"id": exc.existing_id, "email": exc.email}
    except (VersionConflict, StaleDataError):
        db.session.rollback()
        conflict = True
    if not errors and not conflict:
        contact = db.get_or_404(Contact, contact_id)
        ctx = _page_context(contact)
        if not is_htmx():
            flash(_("Saved."), "success")
            return redirect(url_for("contacts.show", contact_id=contact_id))
        body = _group_response(ctx, group, "read")
        body += render_block("contacts/show.html", "header", **{**ctx, "oob": True})
        body += render_template(
            "contacts/_group.html", g=ctx["groups"]["system"], mode="read", **{**ctx, "oob": True}
        )
        return trigger(make_response(body), "contact-changed")
    # Refused: show the form again with what was typed, the errors or both values.
    contact = db.get_or_404(Contact, contact_id)
    ctx = {**_page_context(contact), "duplicate": ctx.get("duplicate")}
    theirs = ctx["values"]
    yours = forms.submitted_values(inputs, request.form)
    ctx["values"] = {**theirs, **yours}
    ctx["errors"] = errors
    if conflict:
        ctx["conflict"] = _conflict(inputs, ctx["groups"][group]["rows"], theirs, yours)
    if is_htmx():
        return _group_response(ctx, group, "edit")
    ctx["editing"] = group
    ctx.update(_timeline_context(contact, ctx["infos"]))
    return render_template("contacts/show.html", **ctx), 409 if conflict else 422


def _conflict(
    inputs: list[forms.Input],
    rows: list[dict[str, Any]],
    theirs: dict[str, Any],
    yours: dict[str, Any],
) -> dict[str, Any]:
    """Which fields differ between the saved contact and the refused form, both shown."""
    from app.templating import display  # imports app.contacts: not at module level

    fields = forms.differing(inputs, theirs, yours)
    saved = {r["field"]: r["value"] for r in rows if r.get("field")}
    by_name = {inp.name: inp for inp in inputs}
    yours_display: dict[str, str] = {}
    for name in fields:
        inp = by_name[name]
        value = yours.get(name)
        options = dict(inp.options)
        if isinstance(value, list):
            yours_display[name] = ", ".join(options.get(v, v) for v in value if v)
        elif options:
            label = options.get(value, value)
            yours_display[name] = label if inp.custom or name == "owner" else _(label)
        else:
            yours_display[name] = value or ""
    return {
        "fields": fields,
        "theirs_display": {name: display(saved.get(name), name) for name in fields},
        "yours_display": yours_display,
    }


@bp.route("/<int:contact_id>/timeline")
@require("read")
def timeline(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    if not is_htmx():
        return redirect(url_for("contacts.show", contact_id=contact_id) + "#timeline")
    ctx = _timeline_context(contact, custom_field_infos(db.session))
    return render_template("contacts/_timeline.html", **ctx)


@bp.route("/<int:contact_id>/archive", methods=["POST"])
@require("write")
def archive(contact_id: int):
    db.get_or_404(Contact, contact_id)
    bulk.archive([contact_id], actor=actor())
    db.session.commit()
    flash(_("Contact archived: it is hidden from the list until restored."), "success")
    return redirect(url_for("contacts.show", contact_id=contact_id))


@bp.route("/<int:contact_id>/restore", methods=["POST"])
@require("write")
def restore(contact_id: int):
    db.get_or_404(Contact, contact_id)
    bulk.restore([contact_id], actor=actor())
    db.session.commit()
    flash(_("Contact restored."), "success")
    return redirect(url_for("contacts.show", contact_id=contact_id))


@bp.route("/<int:contact_id>/delete", methods=["GET"])
@require("write")
def delete_confirm(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    return render_template("contacts/delete.html", contact=contact)


@bp.route("/<int:contact_id>/delete", methods=["POST"])
@require("write")
def delete(contact_id: int) -> Response:
    contact = db.get_or_404(Contact, contact_id)
    label = contact.full_name or contact.email
    bulk.delete_contacts([contact_id], actor=actor())
    db.session.commit()
    flash(_("Deleted %(name)s.", name=label), "success")
    return redirect(url_for("contacts.index"))
