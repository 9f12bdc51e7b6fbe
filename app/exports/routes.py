"""Export pages: choose a format and which contacts, then download.

Up to EXPORT_INLINE_LIMIT contacts stream straight back as a file; more run as a
background job whose page offers the file when it is written. Exporting is reading:
viewers may export. Every export leaves an audit entry.
"""

from __future__ import annotations

from pathlib import Path

from babel.units import format_unit
from flask import (
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.auth.permissions import actor, require
from app.exports import bp, jobs, service
from app.extensions import db
from app.htmx import redirect
from app.i18n import N_
from app.jobs import queue
from app.jobs.models import Job
from app.lists.models import ContactList

EXPORT_INLINE_LIMIT = 5000  # more contacts than this export as a background job
FORMAT_LABELS = {
    "csv": N_("CSV (spreadsheets, re-import)"),
    "vcard": N_("vCard (address books, phones)"),
    "json": N_("JSON (developers)"),
}
SCOPE_LABELS = {
    "filter": N_("Contacts matching the current filter"),
    "selection": N_("Selected contacts"),
    "all": N_("All contacts (archived ones left out)"),
}


def inline_limit() -> int:
    return int(current_app.config.get("EXPORT_INLINE_LIMIT") or EXPORT_INLINE_LIMIT)


@bp.app_template_filter("filesize")
def filesize(size: int | None) -> str:
    """A file size as people read it (12.3 MB, 12,3 Mo), in the user's language."""
    size = int(size or 0)
    units = (("digital-byte", 1), ("digital-kilobyte", 1e3), ("digital-megabyte", 1e6))
    units += (("digital-gigabyte", 1e9),)
    unit, factor = next((u for u in reversed(units) if size >= u[1]), units[0])
    return format_unit(size / factor, unit, length="short", format="#,##0.#", locale=get_locale())


@bp.app_context_processor
def export_choices() -> dict:
    """The export menu's choices, for the contact list page that includes it."""
    return {"export_formats": FORMAT_LABELS, "export_scopes": SCOPE_LABELS}


def _page(status: int = 200, error: str | None = None, **ctx):
    """The export page for the contact list's query (or a list's members)."""
    query = ctx.pop("query", request.values.get("query", ""))
    lst = ctx.pop("lst", None)
    counts: dict[str, int] = {}
    if lst is not None:
        cq, _t, _n = service.resolve(service.Scope("list", list_id=lst.id))
        counts["list"] = service.count_scope(cq)
    else:
        me = actor().id
        filtered, _t, _n = service.resolve(service.Scope("filter", query=query, me_id=me))
        if filtered.filtered:
            counts["filter"] = service.count_scope(filtered)
        all_cq, _t, _n = service.resolve(service.Scope("all"))
        counts["all"] = service.count_scope(all_cq)
    scope = ctx.pop("scope", None)
    if scope not in counts:
        scope = "filter" if "filter" in counts else "all"
    return (
        render_template(
            "exports/new.html",
            lst=lst,
            query=query,
            counts=counts,
            scope=scope,
            fmt=ctx.pop("fmt", "csv"),
            error=error,
            formats=FORMAT_LABELS,
            scopes=SCOPE_LABELS,
            limit=inline_limit(),
            **ctx,
        ),
        status,
    )


@bp.get("/")
@require("read")
def new():
    lst = None
    list_id = request.args.get("list", type=int)
    if list_id is not None:
        lst = db.session.get(ContactList, list_id) or abort(404)
    return _page(lst=lst)


def _deliver(fmt: str, scope: service.Scope, filename: str, title: str):
    """Stream the file, or start a job for a large export; both leave an audit entry."""
    cq, target, _notices = service.resolve(scope)
    n = service.count_scope(cq)
    user = actor()
    service.record_audit(fmt, scope, n, actor=user)
    if n > inline_limit():
        job = jobs.start(fmt, scope, total=n, title=title, filename=filename, actor=user)
        db.session.commit()
        queue.enqueue(job.id)
        return redirect(url_for("jobs.show", job_id=job.id))
    db.session.commit()
    response = Response(
        stream_with_context(service.export_rows(target, fmt)), mimetype=service.mimetype(fmt)
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


FORMAT_NAMES = {"csv": "CSV", "vcard": "vCard", "json": "JSON"}


def _title(fmt: str, what: str) -> str:
    return _("Export of %(what)s (%(format)s)", what=what, format=FORMAT_NAMES[fmt])


@bp.post("/contacts")
@require("read")
def contacts():
    form = request.form
    fmt = form.get("format", "")
    kind = form.get("scope", "")
    query = form.get("query", "")
    ids = tuple(int(i) for i in form.getlist("ids") if i.isdigit())
    error = None
    if fmt not in service.FORMATS:
        error = _("Choose a format.")
    elif kind not in ("filter", "selection", "all"):
        error = _("Choose which contacts to export.")
    elif kind == "selection" and not ids:
        error = _("Select at least one contact first.")
    if error:
        return _page(422, error, query=query, scope=kind, fmt=fmt)
    scope = service.Scope(kind, query=query, ids=ids, me_id=actor().id)
    what = {
        "filter": _("the contacts matching a filter"),
        "selection": _("selected contacts"),
        "all": _("all contacts"),
    }[kind]
    return _deliver(fmt, scope, service.download_name(fmt), _title(fmt, what))


@bp.post("/lists/<int:list_id>")
@require("read")
def list_members(list_id: int):
    lst = db.session.get(ContactList, list_id) or abort(404)
    fmt = request.form.get("format", "")
    if fmt not in service.FORMATS:
        return _page(422, _("Choose a format."), lst=lst)
    scope = service.Scope("list", list_id=lst.id)
    title = _title(fmt, _("the list %(name)s", name=lst.name))
    return _deliver(fmt, scope, service.download_name(fmt, lst.name), title)


@bp.get("/<int:job_id>/download")
@require("read")
def download(job_id: int):
    """The file of a finished export job, for the user who started it or an admin."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != "export":
        abort(404)
    user = actor()
    if job.user_id != user.id and not user.can("admin"):
        abort(403)
    result = job.result or {}
    if job.status != "done" or not result.get("path"):
        abort(404)
    if result.get("expired_at"):
        days = current_app.config.get("EXPORT_KEEP_DAYS")
        message = ngettext(
            "This export's file was deleted %(num)s day after it was made; "
            "export the contacts again.",
            "This export's file was deleted %(num)s days after it was made; "
            "export the contacts again.",
            days,
        )
        abort(410, message)
    path = Path(result["path"]).resolve()
    if path.parent != jobs.export_dir().resolve() or not path.is_file():
        abort(404)
    fmt = result.get("format", "csv")
    response = send_file(
        path,
        mimetype=service.mimetype(fmt),
        as_attachment=True,
        download_name=result.get("filename") or path.name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
