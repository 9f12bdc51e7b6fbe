"""Lists & tags pages: static lists with their members' statuses, and tags management."""

from __future__ import annotations

from flask import Response, abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _

from app.auth.permissions import actor, require
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact, Tag
from app.extensions import db
from app.htmx import is_htmx, redirect, render
from app.lists import bp, service, tags
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList, ListMembership


def translated(errors: dict[str, str]) -> dict[str, str]:
    """Field messages in the user's language, as plain text (escaped by the template)."""
    return {field: _(message) for field, message in errors.items()}


def _fragment(template: str, status: int = 200, **context) -> Response:
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def _fragment_text(body: str) -> Response:
    response = make_response(body, 200)
    response.vary.add("HX-Request")
    return response


def _error_status() -> int:
    """htmx swaps only 2xx answers: a form with errors is 200 for it, 422 for a browser."""
    return 200 if is_htmx() else 422


def _get_member(lst: ContactList, contact_id: int) -> ListMembership:
    member = service.membership(lst.id, contact_id)
    if member is None:
        abort(404)
    return member


# --- The overview: lists and tags ------------------------------------------------------


def _index(status: int = 200, list_errors=None, tag_errors=None):
    return render(
        "lists/index.html",
        status=status,
        lists=service.overview(),
        tags=tags.overview(),
        statuses=SUBSCRIPTION_STATUSES,
        labels=service.STATUS_LABELS,
        list_form=request.form if list_errors else {},
        list_errors=list_errors or {},
        tag_form=request.form if tag_errors else {},
        tag_errors=tag_errors or {},
    )


@bp.route("/")
@require("read")
def index():
    return _index()


@bp.route("/", methods=["POST"])
@require("write")
def create():
    try:
        lst = service.create_list(request.form, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        return _index(422, list_errors=translated(exc.errors))
    db.session.commit()
    flash(_("List created."), "success")
    return redirect(url_for("lists.show", list_id=lst.id))


# --- One list -------------------------------------------------------------------------


def _show(lst: ContactList, block: str | None = None, status: int = 200, **extra):
    filter_status = request.args.get("status")
    if filter_status not in SUBSCRIPTION_STATUSES:
        filter_status = None
    after = request.args.get("after", type=int)
    rows, next_after = service.members(lst.id, filter_status, after)
    return render(
        "lists/show.html",
        block,
        status=status,
        lst=lst,
        rows=rows,
        next_after=next_after,
        after=after,
        filter_status=filter_status,
        counts=_counts(lst),
        statuses=SUBSCRIPTION_STATUSES,
        labels=service.STATUS_LABELS,
        editing=extra.pop("editing", False),
        form=extra.pop("form", None) or {"name": lst.name, "description": lst.description or ""},
        errors=extra.pop("errors", {}),
        add_form=extra.pop("add_form", {}),
        add_errors=extra.pop("add_errors", {}),
        **extra,
    )


def _counts(lst: ContactList) -> dict[str, int]:
    return service.status_counts([lst.id]).get(lst.id, dict.fromkeys(SUBSCRIPTION_STATUSES, 0))


@bp.route("/<int:list_id>")
@require("read")
def show(list_id: int):
    return _show(db.get_or_404(ContactList, list_id), "members" if is_htmx() else None)


@bp.route("/<int:list_id>/edit")
@require("write")
def edit(list_id: int):
    return _show(db.get_or_404(ContactList, list_id), "header", editing=True)


@bp.route("/<int:list_id>/edit", methods=["POST"])
@require("write")
def save(list_id: int):
    lst = db.get_or_404(ContactList, list_id)
    data = {k: request.form[k] for k in ("name", "description") if k in request.form}
    try:
        service.update_list(lst, data, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        lst = db.get_or_404(ContactList, list_id)
        return _show(
            lst,
            "header",
            _error_status(),
            editing=True,
            form=data,
            errors=translated(exc.errors),
        )
    db.session.commit()
    if is_htmx():
        return _show(lst, "header", saved=True)
    flash(_("List saved."), "success")
    return redirect(url_for("lists.show", list_id=lst.id))


@bp.route("/<int:list_id>/delete")
@require("write")
def confirm_delete(list_id: int):
    lst = db.get_or_404(ContactList, list_id)
    return render(
        "lists/confirm.html",
        title=_("Delete the list %(name)s?", name=lst.name),
        message=_(
            "Its %(n)s memberships are removed; the contacts themselves are kept.",
            n=sum(_counts(lst).values()),
        ),
        action=url_for("lists.delete", list_id=lst.id),
        button=_("Delete list"),
        back=url_for("lists.show", list_id=lst.id),
    )


@bp.route("/<int:list_id>/delete", methods=["POST"])
@require("write")
def delete(list_id: int):
    lst = db.get_or_404(ContactList, list_id)
    name = lst.name
    service.delete_list(lst, actor=actor())
    db.session.commit()
    flash(_("List %(name)s deleted.", name=name), "success")
    return redirect(url_for("lists.index"))


@bp.route("/<int:list_id>/members", methods=["POST"])
@require("write")
def add_member(list_id: int):
    lst = db.get_or_404(ContactList, list_id)
    try:
        service.add_member(
            lst,
            request.form.get("email", ""),
            request.form.get("status", "subscribed"),
            actor=actor(),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _show(
            db.get_or_404(ContactList, list_id),
            None,
            422,
            add_form=request.form,
            add_errors=translated(exc.errors),
        )
    db.session.commit()
    flash(_("Contact added to the list."), "success")
    return redirect(url_for("lists.show", list_id=lst.id))


def _member_fragment(lst: ContactList, contact_id: int, removed: bool = False, **extra):
    """The member's row (empty once removed) plus the list's counts, swapped out of band."""
    row = None
    if not removed:
        member = _get_member(lst, contact_id)
        row = (db.session.get(Contact, contact_id), member)
    return _fragment(
        "lists/_member_row.html",
        lst=lst,
        row=row,
        counts=_counts(lst),
        statuses=SUBSCRIPTION_STATUSES,
        labels=service.STATUS_LABELS,
        oob=True,
        **extra,
    )


@bp.route("/<int:list_id>/members/<int:contact_id>/status", methods=["POST"])
@require("write")
def member_status(list_id: int, contact_id: int):
    lst = db.get_or_404(ContactList, list_id)
    member = _get_member(lst, contact_id)
    try:
        changed = service.set_status(lst, member, request.form.get("status", ""), actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        message = " ".join(translated(exc.errors).values())
        if is_htmx():
            return _member_fragment(lst, contact_id, error=message)
        flash(message, "error")
        return redirect(url_for("lists.show", list_id=lst.id))
    db.session.commit()
    if is_htmx():
        return _member_fragment(lst, contact_id, saved=changed)
    flash(_("Status changed."), "success")
    return redirect(url_for("lists.show", list_id=lst.id))


@bp.route("/<int:list_id>/members/<int:contact_id>/remove")
@require("write")
def confirm_remove(list_id: int, contact_id: int):
    lst = db.get_or_404(ContactList, list_id)
    _get_member(lst, contact_id)
    contact = db.session.get(Contact, contact_id)
    return render(
        "lists/confirm.html",
        title=_("Remove %(email)s from %(name)s?", email=contact.email, name=lst.name),
        message=_("The contact is kept; only its membership of this list is removed."),
        action=url_for("lists.remove_member", list_id=lst.id, contact_id=contact_id),
        button=_("Remove from list"),
        back=url_for("lists.show", list_id=lst.id),
    )


@bp.route("/<int:list_id>/members/<int:contact_id>/remove", methods=["POST"])
@require("write")
def remove_member(list_id: int, contact_id: int):
    lst = db.get_or_404(ContactList, list_id)
    member = _get_member(lst, contact_id)
    service.remove_member(lst, member, actor=actor())
    db.session.commit()
    if is_htmx():
        return _member_fragment(lst, contact_id, removed=True)
    flash(_("Contact removed from the list."), "success")
    return redirect(url_for("lists.show", list_id=lst.id))


# --- Tags -----------------------------------------------------------------------------


@bp.route("/tags", methods=["POST"])
@require("write")
def create_tag():
    try:
        tags.create_tag(request.form.get("name"), actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        return _index(422, tag_errors=translated(exc.errors))
    db.session.commit()
    flash(_("Tag created."), "success")
    return redirect(url_for("lists.index") + "#tags")


def _tag_row(tag: Tag, status: int = 200, **extra) -> Response:
    return _fragment(
        "lists/_tag_row.html", status, tag=tag, count=tags.contact_count(tag.id), **extra
    )


@bp.route("/tags/<int:tag_id>/edit")
@require("write")
def edit_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    if is_htmx():
        return _tag_row(tag, editing=True)
    return render("lists/tag_edit.html", tag=tag, form={"name": tag.name}, errors={})


@bp.route("/tags/<int:tag_id>/edit", methods=["POST"])
@require("write")
def rename_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    try:
        tags.rename_tag(tag, request.form.get("name"), actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        tag = db.get_or_404(Tag, tag_id)
        errors = translated(exc.errors)
        if is_htmx():
            return _tag_row(tag, editing=True, form=request.form, errors=errors)
        return render("lists/tag_edit.html", status=422, tag=tag, form=request.form, errors=errors)
    db.session.commit()
    if is_htmx():
        return _tag_row(tag, saved=True)
    flash(_("Tag renamed."), "success")
    return redirect(url_for("lists.index") + "#tags")


@bp.route("/tags/<int:tag_id>/merge", methods=["GET", "POST"])
@require("write")
def merge_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        target = db.session.get(Tag, request.form.get("target", type=int) or 0)
        if target is None:
            errors = {"target": _("Choose the tag to merge into.")}
        else:
            names = {"source": tag.name, "target": target.name}
            try:
                tags.merge_tag(tag, target, actor=actor())
            except ValidationFailed as exc:
                db.session.rollback()
                errors = translated(exc.errors)
            else:
                db.session.commit()
                flash(_("Tag %(source)s merged into %(target)s.", **names), "success")
                return redirect(url_for("lists.index") + "#tags")
    others = [(t, n) for t, n in tags.overview() if t.id != tag.id]
    return render(
        "lists/tag_merge.html",
        status=422 if errors else 200,
        tag=tag,
        count=tags.contact_count(tag.id),
        others=others,
        errors=errors,
    )


@bp.route("/tags/<int:tag_id>/delete")
@require("write")
def confirm_delete_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    return render(
        "lists/confirm.html",
        title=_("Delete the tag %(name)s?", name=tag.name),
        message=_(
            "It is taken off its %(n)s contacts; the contacts are kept.",
            n=tags.contact_count(tag.id),
        ),
        action=url_for("lists.delete_tag", tag_id=tag.id),
        button=_("Delete tag"),
        back=url_for("lists.index") + "#tags",
    )


@bp.route("/tags/<int:tag_id>/delete", methods=["POST"])
@require("write")
def delete_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    name = tag.name
    tags.delete_tag(tag, actor=actor())
    db.session.commit()
    if is_htmx():
        return _fragment_text("")
    flash(_("Tag %(name)s deleted.", name=name), "success")
    return redirect(url_for("lists.index") + "#tags")
