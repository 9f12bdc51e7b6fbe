"""/api/v1/imports: upload a file and start its import in one call, list and follow
imports, undo one.

The same steps as the wizard (app/imports/service.py): the file is stored and read,
the suggested mapping is overridden by the `mapping` part, the `options` part is
checked like the options form, then the import job is queued (202).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import current_app, jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from app import audit
from app.api import bp
from app.api.common import (
    ApiError,
    check_args,
    choice_arg,
    envelope,
    keyset_page,
    page_limit,
)
from app.api.jobs import job_to_dict
from app.auth.permissions import actor, require
from app.contacts.fields import ValidationFailed
from app.extensions import db
from app.imports import service
from app.imports.models import Import, ImportRowError
from app.imports.reader import ImportFileError
from app.imports.routes import csv_response
from app.jobs.models import Job
from app.templating import tr

OPTION_KEYS = {
    "policy",
    "consent_status",
    "consent_type",
    "source",
    "owner",
    "owner_id",
    "tags",
    "lists",
    "list_ids",
    "list_status",
    "defaults",
}


def import_to_dict(imp: Import, errors: int | None = None) -> dict[str, Any]:
    """The API form of an import: its file, columns, options, job progress and counts
    (`errors`: its refused rows, when the caller counted them already)."""
    job = db.session.get(Job, imp.job_id) if imp.job_id else None
    undo_job = db.session.get(Job, imp.undo_job_id) if imp.undo_job_id else None
    if errors is None:
        errors = service.error_count(imp)
    return {
        "id": imp.id,
        "filename": imp.filename,
        "size": imp.size,
        "format": imp.format,
        "encoding": imp.encoding,
        "delimiter": imp.delimiter,
        "state": imp.state,
        "total_estimate": imp.total_estimate,
        "columns": [
            {"header": h, "target": t or None}
            for h, t in zip(imp.headers, imp.mapping or [], strict=False)
        ],
        "options": imp.options,
        "job": job_to_dict(job) if job else None,
        "summary": service.summary(imp),
        "error_count": errors,
        "errors_url": url_for("api.imports_errors", import_id=imp.id) if errors else None,
        "can_undo": service.can_undo(imp),
        "undo_job": job_to_dict(undo_job) if undo_job else None,
        "user_id": imp.user_id,
        "created_at": audit.jsonable(imp.created_at),
        "undone_at": audit.jsonable(imp.undone_at),
    }


def _get(import_id: int) -> Import:
    imp = db.session.get(Import, import_id)
    if imp is None:
        raise ApiError(404, _("No import with id %(id)s.", id=import_id))
    return imp


def _json_part(name: str) -> Any:
    """A form part holding JSON (None when absent); 422 naming it when it is not JSON."""
    raw = request.form.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(
            422, _("%(name)s is not valid JSON: %(error)s", name=name, error=str(exc)), field=name
        ) from None


def _options(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError(422, _("options must be a JSON object."), field="options")
    unknown = sorted(k for k in raw if k not in OPTION_KEYS)
    if unknown:
        raise ApiError(
            422,
            _(
                'Unknown option "%(name)s"; the options are: %(known)s.',
                name=unknown[0],
                known=", ".join(sorted(OPTION_KEYS)),
            ),
            field=f"options.{unknown[0]}",
        )
    options, errors = service.clean_options(raw)
    if errors:
        fields = {f"options.{k}": tr(v) for k, v in errors.items()}
        first = next(iter(fields))
        raise ApiError(422, f"{first}: {fields[first]}", field=first, fields=fields)
    return options


def _mapping(imp: Import, raw: Any) -> list[str]:
    """The suggested mapping with the request's overrides (a list, or {header: target})."""
    chosen = list(imp.mapping or [])
    headers = list(imp.headers)
    if raw is None:
        return chosen
    if isinstance(raw, list):
        if len(raw) != len(headers) or not all(isinstance(t, str) or t is None for t in raw):
            raise ApiError(
                422,
                _(
                    "mapping must list one field (or an empty string) per column: "
                    "the file has %(n)s columns: %(columns)s.",
                    n=len(headers),
                    columns=", ".join(headers),
                ),
                field="mapping",
            )
        return [t or "" for t in raw]
    if isinstance(raw, dict):
        by_name = {h.casefold(): i for i, h in enumerate(headers)}
        for header, target in raw.items():
            index = by_name.get(str(header).strip().casefold())
            if index is None:
                raise ApiError(
                    422,
                    _(
                        'There is no column "%(column)s"; the columns are: %(columns)s.',
                        column=header,
                        columns=", ".join(headers),
                    ),
                    field="mapping",
                )
            if target is not None and not isinstance(target, str):
                raise ApiError(422, _("A mapping target must be a string."), field="mapping")
            chosen[index] = target or ""
        return chosen
    raise ApiError(
        422,
        _('mapping must be a JSON list or an object such as {"Header": "field"}.'),
        field="mapping",
    )


def _mapping_error(imp: Import, errors: dict[int, Any]) -> ApiError:
    columns = {
        (imp.headers[i] if 0 <= i < len(imp.headers) else ""): tr(message)
        for i, message in sorted(errors.items())
    }
    first_index = min(errors)
    first = tr(errors[first_index])
    if first_index >= 0:
        first = f"{imp.headers[first_index]}: {first}"
    return ApiError(422, first, field="mapping", columns=columns)


@bp.post("/api/v1/imports")
@require("write")
def imports_create():
    """Upload a CSV, TSV or vCard file and start importing it (202 with the import)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length and request.content_length > limit:
        raise ApiError(413, tr(service.too_large_message()), field="file")
    options = _options(_json_part("options"))
    raw_mapping = _json_part("mapping")
    file = request.files.get("file")
    if file is None or not file.filename:
        raise ApiError(422, _("Send the file as the multipart form part “file”."), field="file")
    try:
        imp = service.store_upload(file.stream, file.filename, actor=actor())
    except ImportFileError as exc:
        raise ApiError(422, tr(exc.message), field="file") from None
    try:
        errors = service.set_mapping(imp, _mapping(imp, raw_mapping))
        if errors:
            raise _mapping_error(imp, errors)
        imp.options = options
        job = service.start(imp, actor=actor())  # commits
    except (ApiError, ValidationFailed):
        Path(imp.path).unlink(missing_ok=True)  # the draft row goes with the rollback
        raise
    response = jsonify(import_to_dict(imp))
    response.status_code = 202
    response.headers["Location"] = url_for("api.imports_get", import_id=imp.id)
    response.headers["X-Job-Id"] = str(job.id)
    return response


STATES = ("draft", "started", "undone")


@bp.get("/api/v1/imports")
@require("read")
def imports_list():
    """Imports, newest first (`state`: draft, started or undone), paged like the contacts."""
    check_args({"limit", "cursor", "state"})
    stmt = select(Import)
    state = choice_arg("state", STATES)
    if state:
        stmt = stmt.where(Import.state == state)
    rows, next_cursor = keyset_page(stmt, [(-Import.id).label("k_id")], page_limit())
    imports = [row[0] for row in rows]
    # The page's jobs and error counts in two queries, not two per import.
    job_ids = {i.job_id for i in imports if i.job_id} | {
        i.undo_job_id for i in imports if i.undo_job_id
    }
    # Held by this local while the page is built: the identity map, where import_to_dict
    # finds them, keeps only weak references.
    _held = list(db.session.scalars(select(Job).where(Job.id.in_(job_ids)))) if job_ids else []
    errors = dict(
        db.session.execute(
            select(ImportRowError.import_id, func.count())
            .where(ImportRowError.import_id.in_([i.id for i in imports]))
            .group_by(ImportRowError.import_id)
        ).all()
    )
    return envelope([import_to_dict(i, errors.get(i.id, 0)) for i in imports], next_cursor)


@bp.get("/api/v1/imports/<int:import_id>")
@require("read")
def imports_get(import_id: int):
    """An import with its job's live progress and the counts so far."""
    return jsonify(import_to_dict(_get(import_id)))


@bp.get("/api/v1/imports/<int:import_id>/errors")
@require("read")
def imports_errors(import_id: int):
    """The rows the import refused, as CSV: the original cells, the row number and the reason."""
    return csv_response(_get(import_id))


@bp.post("/api/v1/imports/<int:import_id>/undo")
@require("write")
def imports_undo(import_id: int):
    """Undo a finished import (202 with the undo job): what it created, changed and added."""
    imp = _get(import_id)
    if not service.can_undo(imp):
        raise ApiError(409, _("This import cannot be undone now."), code="conflict")
    job = service.undo(imp, actor=actor())
    response = jsonify(job_to_dict(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.jobs_get", job_id=job.id)
    return response
