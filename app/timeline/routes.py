"""Timeline pages: the contact and company timelines (kind filter, pages as you scroll),
log, edit and delete notes, calls, meetings and follow-ups, "my follow-ups", and the
contact search behind the attendee picker.

Every view answers htmx with a fragment and a browser with a full page (or a redirect
to the page the fragment belongs to), so each works without JavaScript too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask import abort, current_app, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from app.auth.permissions import actor, require
from app.companies.models import Company
from app.contacts.models import Contact
from app.contacts.query import CustomFieldInfo, fetch_page, parse_args
from app.contacts.related import custom_field_infos
from app.extensions import db
from app.htmx import is_htmx, redirect, trigger
from app.timeline import bp, query, service
from app.timeline.forms import (
    CALL_DIRECTIONS,
    CALL_OUTCOMES,
    LOG_LABELS,
    LOGGABLE,
    FormInvalid,
    attendee_ids,
    clean_form,
    form_values,
    submitted_values,
)
from app.timeline.models import Activity
from app.timeutil import utcnow

VIEWS = ("contact", "company", "follow-ups")
SEARCH_SIZE = 8

# ---------------------------------------------------------------- timeline context


def _kinds_param(keys: Sequence[str]) -> str | None:
    return ",".join(keys) or None


@bp.app_context_processor
def _timeline_ui() -> dict[str, Any]:
    """What the timeline templates need beside their data (labels, choices, helpers) as
    `timeline_ui`, wherever they are included (the contact and company pages too)."""
    return {"timeline_ui": _Ui()}


class _Ui:
    """Labels and helpers of the timeline templates (computed when used)."""

    log_labels = LOG_LABELS
    call_directions = CALL_DIRECTIONS
    call_outcomes = CALL_OUTCOMES
    kind_labels = query.KIND_LABELS
    data_items = staticmethod(query.data_items)

    @staticmethod
    def deal_url(deal_id: int) -> str | None:
        return deal_url(deal_id)

    @property
    def today(self):
        return utcnow().date()


DEAL_ENDPOINTS = ("pipeline.deal", "pipeline.show_deal", "pipeline.deal_show", "pipeline.show")


def deal_url(deal_id: int) -> str | None:
    """The deal's page, when the pipeline has one (else the deal is named, not linked)."""
    for endpoint in DEAL_ENDPOINTS:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, deal_id=deal_id)
            except BuildError:
                continue
    return None


def _entries(
    activities: Sequence[Activity],
    infos: Sequence[CustomFieldInfo] | None,
    *,
    with_contacts: bool,
) -> list[query.Entry]:
    if infos is None:
        infos = custom_field_infos(db.session)
    labels = {f"custom.{i.name}": i.label or i.name for i in infos}
    entries = query.load_entries(
        db.session, activities, custom_labels=labels, with_contacts=with_contacts
    )
    user = actor()
    for entry in entries:
        entry.can_edit = service.can_edit(entry.activity, user)
        entry.can_delete = service.can_delete(entry.activity, user)
    return entries


def _context(
    view: str,
    subject: Contact | Company,
    args: Mapping[str, Any],
    infos: Sequence[CustomFieldInfo] | None = None,
) -> dict[str, Any]:
    """Everything the timeline section of a contact or company page shows."""
    getlist = getattr(args, "getlist", None)
    raw_kinds = getlist("kinds") if getlist else list(args.get("kinds") or [])
    keys = query.parse_kinds(raw_kinds)
    kinds = query.kinds_of(keys)
    cursor = (args.get("cursor") or "").strip() or None
    if query.decode_cursor(cursor) is None:
        cursor = None
    if view == "contact":
        page = query.contact_page(db.session, subject.id, kinds, cursor)
        page_endpoint, fragment_endpoint, id_arg = (
            "contacts.show",
            "timeline.contact_items",
            "contact_id",
        )
    else:
        page = query.company_page(db.session, subject.id, kinds, cursor)
        page_endpoint, fragment_endpoint, id_arg = (
            "companies.show",
            "timeline.company_items",
            "company_id",
        )
    param = _kinds_param(keys)
    ids = {id_arg: subject.id}
    nxt = page.next_cursor
    user = actor()
    return {
        "view": view,
        "subject": subject,
        "filters": query.FILTERS,
        "kinds": keys,
        "entries": _entries(page.activities, infos, with_contacts=view == "company"),
        "next_cursor": nxt,
        "cursor": cursor,
        "fragment_url": url_for(fragment_endpoint, **ids),
        "page_base": url_for(page_endpoint, **ids),
        "body_url": url_for(fragment_endpoint, kinds=param, **ids),
        "page_url": url_for(page_endpoint, kinds=param, **ids),
        "more_url": url_for(fragment_endpoint, kinds=param, cursor=nxt, **ids) if nxt else None,
        "older_url": url_for(page_endpoint, kinds=param, cursor=nxt, **ids) + "#timeline"
        if nxt
        else None,
        "newest_url": url_for(page_endpoint, kinds=param, **ids) + "#timeline",
        "can_log": view == "contact" and user is not None and user.can("write"),
        "log": _blank_log("note"),
    }


def contact_timeline(
    contact: Contact, args: Mapping[str, Any], infos: Sequence[CustomFieldInfo] | None = None
) -> dict[str, Any]:
    """The timeline of a contact page (`tl` in templates/timeline/_section.html)."""
    return _context("contact", contact, args, infos)


def company_timeline(company: Company, args: Mapping[str, Any]) -> dict[str, Any]:
    """The timeline of a company page."""
    return _context("company", company, args)


def _blank_log(kind: str, **extra: Any) -> dict[str, Any]:
    values = submitted_values({})
    if kind == "call":
        values["outcome"] = "connected"
    return {"kind": kind, "typed": values, "errors": {}, "saved": None, **extra}


def _items_response(tl: dict[str, Any]):
    """The list's first page (a filter change, a refresh) or the next page (a cursor)."""
    if tl["cursor"]:
        body = render_template("timeline/_items.html", tl=tl)
    else:
        body = render_template("timeline/_body.html", tl=tl)
    response = make_response(body)
    response.vary.add("HX-Request")
    if request.headers.get("HX-Trigger") == "timeline-filter":
        # The address bar shows the page with this filter: reload and bookmarks keep it.
        response.headers["HX-Push-Url"] = tl["page_url"]
    return response


# ---------------------------------------------------------------- timelines


@bp.route("/contacts/<int:contact_id>")
@require("read")
def contact_items(contact_id: int):
    """The contact's timeline list (filtered, or the page after a cursor) for htmx."""
    contact = db.get_or_404(Contact, contact_id)
    if not is_htmx():
        return redirect(_page_with_args("contacts.show", contact_id=contact_id))
    return _items_response(contact_timeline(contact, request.args))


@bp.route("/companies/<int:company_id>")
@require("read")
def company_items(company_id: int):
    """The company's timeline list for htmx."""
    company = db.get_or_404(Company, company_id)
    if not is_htmx():
        return redirect(_page_with_args("companies.show", company_id=company_id))
    return _items_response(company_timeline(company, request.args))


def _page_with_args(endpoint: str, **ids: Any) -> str:
    keys = query.parse_kinds(request.args.getlist("kinds"))
    cursor = request.args.get("cursor") or None
    return url_for(endpoint, kinds=_kinds_param(keys), cursor=cursor, **ids) + "#timeline"


# ---------------------------------------------------------------- log


def _contact_page_url(contact_id: int) -> str:
    return url_for("contacts.show", contact_id=contact_id) + "#timeline"


def _log_fragment(contact: Contact, log: dict[str, Any]) -> str:
    return render_template("timeline/_log.html", subject=contact, log=log)


def _oob_dates(contact_id: int) -> str:
    """The contact page's System group (last activity, last contacted), swapped out of band."""
    from app.contacts.routes import system_group_oob

    return system_group_oob(contact_id)


def _changed(response, contact_id: int | None):
    """Tell the page a timeline changed. On a contact page, its dates are swapped in out of
    band and "contact-changed" refreshes what follows the contact (timeline, score); on
    other pages, "timeline-changed" refreshes the timeline."""
    if contact_id is None:
        return trigger(response, "timeline-changed")
    response.set_data(response.get_data(as_text=True) + _oob_dates(contact_id))
    return trigger(response, "contact-changed")


@bp.route("/contacts/<int:contact_id>/log/<kind>")
@require("write")
def log_form(contact_id: int, kind: str):
    """The form that logs a note, call, meeting or follow-up (a fragment, or its own page)."""
    contact = db.get_or_404(Contact, contact_id)
    if kind not in LOGGABLE:
        abort(404)
    log = _blank_log(kind)
    if is_htmx():
        return _log_fragment(contact, log)
    return render_template("timeline/log.html", subject=contact, log=log)


@bp.route("/contacts/<int:contact_id>/log/<kind>", methods=["POST"])
@require("write")
def log(contact_id: int, kind: str):
    """Log a note, call, meeting or follow-up on the contact's timeline."""
    contact = db.get_or_404(Contact, contact_id)
    if kind not in LOGGABLE:
        abort(404)
    form = request.form.to_dict(flat=False)
    try:
        values = clean_form(kind, form, now=utcnow())
        service.log_activity(contact, values, actor=actor(), via="web")
        db.session.commit()
    except FormInvalid as exc:
        db.session.rollback()
        contact = db.get_or_404(Contact, contact_id)
        log = {
            "kind": kind,
            "typed": submitted_values(form, service.labels_for(db.session, attendee_ids(form))),
            "errors": exc.errors,
            "saved": None,
        }
        if is_htmx():
            return _log_fragment(contact, log)
        ctx = {"subject": contact, "log": log}
        return render_template("timeline/log.html", **ctx), 422
    saved = {
        "note": _("Note added."),
        "call": _("Call logged."),
        "meeting": _("Meeting logged."),
        "task": _("Follow-up added."),
    }[kind]
    if not is_htmx():
        flash(saved, "success")
        return redirect(_contact_page_url(contact_id))
    return _changed(
        make_response(_log_fragment(contact, _blank_log(kind, saved=saved))), contact_id
    )


# ---------------------------------------------------------------- one activity


def _view() -> str:
    value = request.values.get("view", "contact")
    return value if value in VIEWS else "contact"


def _entry(activity: Activity, view: str) -> query.Entry:
    return _entries([activity], None, with_contacts=view == "company")[0]


def _back_url(activity: Activity, view: str) -> str:
    if view == "follow-ups":
        return url_for("timeline.follow_ups")
    if view == "company" and activity.company_id:
        return url_for("companies.show", company_id=activity.company_id) + "#timeline"
    if activity.contact_id:
        return _contact_page_url(activity.contact_id)
    return url_for("timeline.follow_ups")


def _item(activity: Activity, view: str) -> str:
    if view == "follow-ups":
        row = _follow_up_row(activity)
        return render_template("timeline/_follow_up.html", f=row, view=view)
    return render_template("timeline/_activity.html", e=_entry(activity, view), view=view)


def _follow_up_row(activity: Activity) -> service.FollowUp:
    labels = query.contact_labels(db.session, [activity.contact_id or 0])
    group = service.group_of(activity, utcnow())
    return service.FollowUp(activity, activity.contact_id, labels.get(activity.contact_id), group)


def _require_edit(activity: Activity) -> None:
    if not service.can_edit(activity, actor()):
        abort(403)


def _require_delete(activity: Activity) -> None:
    if not service.can_delete(activity, actor()):
        abort(403)


@bp.route("/activities/<int:activity_id>")
@require("read")
def activity(activity_id: int):
    """One timeline entry (htmx: after Cancel on its edit form)."""
    item = db.get_or_404(Activity, activity_id)
    view = _view()
    if not is_htmx():
        return redirect(_back_url(item, view))
    return _item(item, view)


def _edit_page(item: Activity, view: str, values: dict, errors: dict, status: int = 200):
    ctx = {
        "a": item,
        "view": view,
        "values": values,
        "errors": errors,
        "back_url": _back_url(item, view),
    }
    if is_htmx():
        return render_template("timeline/_edit.html", **ctx)
    return render_template("timeline/edit.html", **ctx), status


@bp.route("/activities/<int:activity_id>/edit")
@require("write")
def edit_form(activity_id: int):
    """The edit form of a note, call, meeting or follow-up (its author or an admin)."""
    item = db.get_or_404(Activity, activity_id)
    _require_edit(item)
    values = form_values(item, service.attendee_labels(db.session, item))
    return _edit_page(item, _view(), values, {})


@bp.route("/activities/<int:activity_id>/edit", methods=["POST"])
@require("write")
def edit(activity_id: int):
    """Save an edited note, call, meeting or follow-up."""
    item = db.get_or_404(Activity, activity_id)
    _require_edit(item)
    view = _view()
    form = request.form.to_dict(flat=False)
    try:
        values = clean_form(item.kind, form, now=utcnow())
        changes = service.edit_activity(item, values, actor=actor(), via="web")
        db.session.commit()
    except FormInvalid as exc:
        db.session.rollback()
        item = db.get_or_404(Activity, activity_id)
        values_shown = submitted_values(form, service.labels_for(db.session, attendee_ids(form)))
        return _edit_page(item, view, values_shown, exc.errors, status=422)
    item = db.get_or_404(Activity, activity_id)
    if not is_htmx():
        flash(_("Saved."), "success")
        return redirect(_back_url(item, view))
    response = make_response(_item(item, view))
    if "occurred_at" in changes:
        # The entry may move in the list, and the contact's dates (and score) with it.
        return _changed(response, item.contact_id if view == "contact" else None)
    return response


@bp.route("/activities/<int:activity_id>/delete")
@require("write")
def delete_confirm(activity_id: int):
    """Ask before deleting (the page without JavaScript; htmx asks with hx-confirm)."""
    item = db.get_or_404(Activity, activity_id)
    _require_delete(item)
    view = _view()
    entry = _entry(item, view)
    entry.can_edit = entry.can_delete = False  # the page itself is the delete button
    return render_template(
        "timeline/delete.html", e=entry, view=view, back_url=_back_url(item, view)
    )


@bp.route("/activities/<int:activity_id>/delete", methods=["POST"])
@require("write")
def delete(activity_id: int):
    """Delete an activity (its author or an admin)."""
    item = db.get_or_404(Activity, activity_id)
    _require_delete(item)
    view = _view()
    back = _back_url(item, view)
    contact_id = item.contact_id
    service.delete_activity(item, actor=actor(), via="web")
    db.session.commit()
    if not is_htmx():
        flash(_("Deleted."), "success")
        return redirect(back)
    # The entry's <li> is swapped for nothing.
    return _changed(make_response(""), contact_id if view == "contact" else None)


@bp.route("/activities/<int:activity_id>/done", methods=["POST"])
@require("write")
def done(activity_id: int):
    """Mark a follow-up done, or open it again (done=0)."""
    item = db.get_or_404(Activity, activity_id)
    _require_edit(item)
    view = _view()
    finished = request.form.get("done", "1") != "0"
    try:
        service.set_done(item, finished, actor=actor(), via="web")
    except FormInvalid:
        abort(400)
    db.session.commit()
    item = db.get_or_404(Activity, activity_id)
    if not is_htmx():
        flash(_("Follow-up done.") if finished else _("Follow-up open again."), "success")
        return redirect(_back_url(item, view))
    return _item(item, view)


# ---------------------------------------------------------------- my follow-ups


@bp.route("/follow-ups")
@require("read")
def follow_ups():
    """The current user's follow-ups by due date: overdue, today, upcoming (and done)."""
    user = actor()
    show_done = request.args.get("done") == "1"
    result = service.follow_ups(db.session, user.id, include_done=show_done)
    return render_template(
        "timeline/follow_ups.html",
        result=result,
        show_done=show_done,
        view="follow-ups",
        today=utcnow().date(),
    )


# ---------------------------------------------------------------- contact search


_LAST_TOKEN = re.compile(r"[^,;]*$")


@bp.route("/contact-search")
@require("read")
def contact_search():
    """Contacts matching what is typed (names, emails, company), for pickers.

    `as=options` answers <option>s for a datalist (reports to, referred by); otherwise
    buttons that add an attendee to a meeting form.
    """
    raw = request.args.get("q")
    if raw is None:
        raw = request.args.get("attendee_emails", "")
    text = _LAST_TOKEN.search(raw).group(0).strip()[:200]
    exclude = request.args.get("exclude", type=int)
    contacts: list[Contact] = []
    if text:
        cq, _notices = parse_args({"q": [text], "limit": [str(SEARCH_SIZE + 1)]})
        contacts, _next = fetch_page(db.session, cq)
        contacts = [c for c in contacts if c.id != exclude][:SEARCH_SIZE]
    template = (
        "timeline/_search_options.html"
        if request.args.get("as") == "options"
        else ("timeline/_search_results.html")
    )
    response = make_response(render_template(template, contacts=contacts, q=text))
    response.vary.add("HX-Request")
    return response
