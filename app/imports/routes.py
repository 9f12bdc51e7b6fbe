"""Import wizard pages: upload, columns, options, preview, start; past imports, the
error file and undo. The work is in service.py; the rows are written by the job.

Every step works by full page load. A draft belongs to the user who uploaded it
(admins may continue anyone's); once started, an import is shown on its job page.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Response, abort, flash, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth.models import User
from app.auth.permissions import actor, require
from app.contacts.fields import BY_NAME, CONSENT_STATUSES, CONSENT_TYPES, ValidationFailed
from app.extensions import db
from app.htmx import redirect
from app.i18n import N_
from app.imports import bp, engine, reader, service
from app.imports.models import Import
from app.imports.reader import ImportFileError
from app.jobs.models import Job
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList
from app.lists.service import STATUS_LABELS
from app.templating import display, tr

ACCEPT = ".csv,.tsv,.txt,.vcf,.vcard,text/csv,text/tab-separated-values,text/vcard"
POLICY_LABELS = {
    "update": (
        N_("Update existing contacts"),
        N_(
            "A row whose email is already in Kontor updates that contact (empty cells change nothing)."
        ),
    ),
    "skip": (
        N_("Skip existing contacts"),
        N_("Rows whose email is already in Kontor are left out; only new contacts are added."),
    ),
    "create": (
        N_("Create only"),
        N_("Rows whose email is already in Kontor are refused and listed in the error file."),
    ),
}
ACTION_LABELS = {
    "create": N_("New contact"),
    "update": N_("Update"),
    "skip": N_("Skipped"),
    "fail": N_("Refused"),
}
STATE_LABELS = {"draft": N_("Draft"), "started": N_("Started"), "undone": N_("Undone")}
STEPS = (
    ("upload", N_("Upload")),
    ("columns", N_("Columns")),
    ("options", N_("Options")),
    ("preview", N_("Preview")),
    ("import", N_("Import")),
)
PREVIEW_ROWS = 20


# --- helpers -------------------------------------------------------------------------


def _may_continue(imp: Import) -> bool:
    user = actor()
    return bool(user) and (user.can("admin") or imp.user_id == user.id)


def _draft(import_id: int) -> tuple[Import, Response | None]:
    """The draft import the user may continue, or a redirect to its job once started."""
    imp = db.get_or_404(Import, import_id)
    if not _may_continue(imp):
        abort(403)
    if imp.state != "draft":
        target = imp.job_id and url_for("jobs.show", job_id=imp.job_id)
        return imp, redirect(target or url_for("imports.index"))
    return imp, None


def grouped_targets() -> list[tuple[str, list[Any]]]:
    """The mapping targets grouped for <optgroup>s, in the registry's order."""
    return [(group, list(items)) for group, items in groupby(service.targets(), lambda t: t.group)]


def target_labels() -> dict[str, str]:
    return {t.key: t.label for t in service.targets()}


def samples(imp: Import, n: int = 3) -> list[list[str]]:
    """Up to n sample values per column (non-empty cells of the first rows)."""
    out: list[list[str]] = [[] for _ in imp.headers]
    try:
        rows = reader.read_preview(imp.path, engine.file_info(imp), 50)
    except (ImportFileError, OSError):
        return out
    for _number, cells in rows:
        for i, cell in enumerate(cells[: len(out)]):
            text = cell.strip()
            if text and len(out[i]) < n:
                out[i].append(text[:80])
    return out


def _upload_page(status: int = 200, error: Any = None):
    return render_template("imports/upload.html", step="upload", imp=None, error=error), status


def _mapping_page(imp: Import, chosen: list[str], errors: dict[int, Any], status: int = 200):
    return (
        render_template(
            "imports/mapping.html",
            step="columns",
            imp=imp,
            columns=list(zip(imp.headers, chosen, samples(imp), strict=False)),
            groups=grouped_targets(),
            errors=errors,
        ),
        status,
    )


def _options_form(imp: Import) -> dict[str, Any]:
    options = imp.options or service.default_options()
    defaults = options.get("defaults") or {}
    return {
        "policy": options.get("policy", "update"),
        "consent_status": defaults.get("consent_status", ""),
        "consent_type": defaults.get("consent_type", ""),
        "source": defaults.get("source", ""),
        "owner": str(defaults.get("owner_id") or ""),
        "tags": ", ".join(options.get("tags") or []),
        "list_ids": [str(i) for i in options.get("list_ids") or []],
        "list_status": options.get("list_status", "subscribed"),
    }


def _options_page(imp: Import, form: dict[str, Any], errors: dict[str, Any], status: int = 200):
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.email))
    return (
        render_template(
            "imports/options.html",
            step="options",
            imp=imp,
            form=form,
            errors=errors,
            policies=POLICY_LABELS,
            consent_statuses=CONSENT_STATUSES,
            consent_types=CONSENT_TYPES,
            users=list(users),
            lists=list(db.session.scalars(select(ContactList).order_by(ContactList.name))),
            list_statuses={s: STATUS_LABELS.get(s, s) for s in SUBSCRIPTION_STATUSES},
            warn=service.opted_in_warning(imp) or form.get("consent_status") == "opted_in",
        ),
        status,
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    """An upload over MAX_CONTENT_LENGTH: the upload page again, with the limit."""
    user = actor()
    if user is None or not user.can("write"):
        return render_template(
            "errors/error.html", code=413, message=_("The file is too large.")
        ), 413
    db.session.rollback()
    return _upload_page(413, tr(service.too_large_message()))


@bp.app_template_global()
def import_for_job(job: Job) -> dict[str, Any] | None:
    """The import a job runs or undoes, with what its result page shows (job page include)."""
    if job.kind == "import_undo":
        imp = db.session.scalar(select(Import).where(Import.undo_job_id == job.id))
    else:
        imp = db.session.scalar(select(Import).where(Import.job_id == job.id))
    if imp is None:
        return None
    user = actor()
    options = imp.options or {}
    lists = []
    if options.get("list_ids"):
        lists = list(
            db.session.scalars(select(ContactList).where(ContactList.id.in_(options["list_ids"])))
        )
    return {
        "imp": imp,
        "summary": service.summary(imp),
        "error_count": service.error_count(imp),
        "can_undo": service.can_undo(imp) and bool(user) and user.can("write"),
        "undo_job": db.session.get(Job, imp.undo_job_id) if imp.undo_job_id else None,
        "tags": options.get("tags") or [],
        "lists": lists,
    }


# --- pages ---------------------------------------------------------------------------


@bp.get("/")
@require("read")
def index():
    """Past imports, newest first."""
    imports = list(db.session.scalars(select(Import).order_by(Import.id.desc()).limit(100)))
    job_ids = {i.job_id for i in imports if i.job_id} | {
        i.undo_job_id for i in imports if i.undo_job_id
    }
    # Held while the page renders: the identity map, where summary() and the template
    # find them without a query, keeps only weak references.
    held = {j.id: j for j in db.session.scalars(select(Job).where(Job.id.in_(job_ids)))}
    user_ids = {i.user_id for i in imports if i.user_id}
    people = {}
    if user_ids:
        people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    rows = [
        {
            "imp": imp,
            "user": people.get(imp.user_id),
            "job": held.get(imp.job_id),
            "summary": service.summary(imp) if imp.job_id else None,
            "may_continue": imp.state == "draft" and _may_continue(imp),
        }
        for imp in imports
    ]
    return render_template(
        "imports/index.html",
        rows=rows,
        states=STATE_LABELS,
        can_write=actor().can("write"),
    )


@bp.get("/new")
@require("write")
def new():
    """Step 1: choose a file."""
    return _upload_page()


@bp.post("/new")
@require("write")
def upload():
    """Store the file, read its columns and suggest a mapping; then the columns step."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return _upload_page(422, _("Choose a file to import."))
    try:
        imp = service.store_upload(file.stream, file.filename, actor=actor())
    except ImportFileError as exc:
        db.session.rollback()
        return _upload_page(422, tr(exc.message))
    db.session.commit()
    return redirect(url_for("imports.mapping", import_id=imp.id))


@bp.get("/<int:import_id>/mapping")
@require("write")
def mapping(import_id: int):
    """Step 2: what each column of the file becomes."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    chosen = list(imp.mapping or [])
    chosen += [""] * (len(imp.headers) - len(chosen))
    return _mapping_page(imp, chosen, {})


@bp.post("/<int:import_id>/mapping")
@require("write")
def save_mapping(import_id: int):
    """Save the mapping, or show each column's problem next to its choice."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    chosen = [request.form.get(f"col_{i}", "") for i in range(len(imp.headers))]
    errors = service.set_mapping(imp, chosen)
    if errors:
        page = _mapping_page(imp, list(imp.mapping), errors, 422)
        db.session.rollback()  # an unusable mapping is not saved
        return page
    db.session.commit()
    return redirect(url_for("imports.options", import_id=imp.id))


@bp.get("/<int:import_id>/options")
@require("write")
def options(import_id: int):
    """Step 3: existing contacts, defaults for empty cells, tags and lists."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    return _options_page(imp, _options_form(imp), {})


@bp.post("/<int:import_id>/options")
@require("write")
def save_options(import_id: int):
    """Save the options, or show what is wrong with each."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    form: dict[str, Any] = {
        key: request.form.get(key, "")
        for key in (
            "policy",
            "consent_status",
            "consent_type",
            "source",
            "owner",
            "tags",
            "list_status",
        )
    }
    form["list_ids"] = [v for v in request.form.getlist("list_ids") if v]
    cleaned, errors = service.clean_options(form)
    if errors:
        return _options_page(imp, form, errors, 422)
    imp.options = cleaned
    db.session.commit()
    return redirect(url_for("imports.preview", import_id=imp.id))


@bp.get("/<int:import_id>/preview")
@require("write")
def preview(import_id: int):
    """Step 4: the first rows as they will be saved, and what happens to each."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    labels = target_labels()
    columns = []
    for index, (header, key) in enumerate(zip(imp.headers, imp.mapping or [], strict=False)):
        if not key:
            continue
        if key.startswith("new:"):
            label = _("%(name)s (new field)", name=key[4:].strip() or header)
        else:
            label = tr(labels.get(key, key))
        columns.append({"index": index, "key": key, "label": label, "header": header})
    error = None
    try:
        rows = service.preview(imp, PREVIEW_ROWS)
    except ImportFileError as exc:
        error, rows = tr(exc.message), []
    return render_template(
        "imports/preview.html",
        step="preview",
        imp=imp,
        columns=columns,
        rows=[_preview_row(row, columns) for row in rows],
        actions=ACTION_LABELS,
        error=error,
        warn=service.opted_in_warning(imp),
        counts={a: sum(1 for r in rows if r.action == a) for a in ACTION_LABELS},
    )


def _preview_row(row: service.PreviewRow, columns: list[dict[str, Any]]) -> dict[str, Any]:
    """One preview row ready to show: a (text, error) per mapped column, other errors apart.

    A refused row shows the file's cells as they are; others show the values as saved.
    """
    cells = []
    for col in columns:
        key, raw = col["key"], ""
        if col["index"] < len(row.cells):
            raw = row.cells[col["index"]].strip()
        if row.action == "fail" or key.startswith("new:"):
            text = raw
        else:
            text = display(row.values.get(key), key if key in BY_NAME else None)
        cells.append((text, row.errors.get(key)))
    keys = {col["key"] for col in columns}
    others = [
        (tr(target_labels().get(k, k)) + ": " if k else "") + tr(message)
        for k, message in row.errors.items()
        if k not in keys
    ]
    return {
        "number": row.row_number,
        "action": row.action,
        "cells": cells,
        "errors": others,
        "duplicates": row.possible_duplicates,
    }


@bp.post("/<int:import_id>/start")
@require("write")
def start(import_id: int):
    """Step 5: queue the import job and follow it on the job page."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    try:
        job = service.start(imp, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(tr(message), "error")
        return redirect(url_for("imports.mapping", import_id=import_id))
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.post("/<int:import_id>/discard")
@require("write")
def discard(import_id: int):
    """Forget a draft and its uploaded file."""
    imp, moved = _draft(import_id)
    if moved:
        return moved
    name = imp.filename
    service.discard(imp)
    db.session.commit()
    flash(_("The import of %(file)s was cancelled.", file=name), "info")
    return redirect(url_for("imports.index"))


@bp.get("/<int:import_id>/errors.csv")
@require("read")
def errors_csv(import_id: int):
    """The refused rows: the file's columns, the row number and the reason."""
    imp = db.get_or_404(Import, import_id)
    return csv_response(imp)


def csv_response(imp: Import) -> Response:
    """The error file of an import as a CSV download (streamed)."""
    response = Response(
        stream_with_context(service.error_csv(imp)), content_type="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="import-{imp.id}-errors.csv"'
    return response


@bp.post("/<int:import_id>/undo")
@require("write")
def undo(import_id: int):
    """Queue the job that undoes the import; follow it on its job page."""
    imp = db.get_or_404(Import, import_id)
    try:
        job = service.undo(imp, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(tr(message), "error")
        return redirect(
            url_for("jobs.show", job_id=imp.job_id) if imp.job_id else url_for("imports.index")
        )
    return redirect(url_for("jobs.show", job_id=job.id))
