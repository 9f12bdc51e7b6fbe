"""Imports, step by step: store an upload, read it, map its columns, choose options,
preview, start the job, undo. The wizard pages, the API and `kontor import` all
call these functions; the rows themselves are written by the job (engine.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select

from app import audit
from app.auth.models import User
from app.contacts.fields import (
    BY_NAME,
    CONSENT_STATUSES,
    CONSENT_TYPES,
    FieldError,
    ValidationFailed,
    clean_value,
)
from app.contacts.models import Contact, CustomField
from app.extensions import db
from app.i18n import N_, Message
from app.imports import engine, mapping, reader
from app.imports.models import POLICIES, Import, ImportRowError
from app.imports.reader import ImportFileError
from app.imports.rows import prepare, reason
from app.jobs import queue, runner
from app.jobs.models import Job
from app.lists.models import SUBSCRIPTION_STATUSES, ContactList
from app.settings import customfields

ALLOWED_EXTENSIONS = (".csv", ".tsv", ".txt", ".vcf", ".vcard")
DEFAULT_FIELDS = ("consent_status", "consent_type", "source")


def upload_dir() -> Path:
    path = Path(current_app.config["INSTANCE_DIR"]) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def custom_field_triples() -> list[tuple[str, str, str]]:
    """(name, label, type) of every custom field, for the column mapping."""
    return [
        (d.name, d.label, d.type)
        for d in db.session.scalars(
            select(CustomField).order_by(CustomField.position, CustomField.id)
        )
    ]


def default_options() -> dict[str, Any]:
    """A new import's options: update existing contacts, consent type Imported."""
    return {
        "policy": "update",
        "defaults": {"consent_type": "imported"},
        "tags": [],
        "list_ids": [],
        "list_status": "subscribed",
        "owner_id": None,
    }


def store_upload(stream: BinaryIO, filename: str, *, actor: Any = None) -> Import:
    """Save an uploaded file, read its shape and suggest a mapping (flushed, not committed).

    Raises ImportFileError with a message for the user when the file cannot be imported.
    """
    name = os.path.basename(filename or "").strip() or "upload.csv"
    ext = os.path.splitext(name)[1].lower()
    if ext in reader.WORKBOOK_EXTENSIONS:
        raise ImportFileError(reader.WORKBOOK)  # says how to save it as CSV
    if ext not in ALLOWED_EXTENSIONS:
        raise ImportFileError(
            Message(
                N_("Kontor imports %(types)s files, not %(ext)s."),
                types=", ".join(ALLOWED_EXTENSIONS),
                ext=ext or name,
            )
        )
    path = upload_dir() / f"{secrets.token_hex(12)}{ext}"
    digest = hashlib.sha256()
    size = 0
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    with open(path, "wb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if limit and size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise ImportFileError(too_large_message())
            digest.update(chunk)
            out.write(chunk)
    return _register(path, name, size, digest.hexdigest(), actor)


def too_large_message() -> Message:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return Message(
        N_("The file is larger than %(mb)s MB, the upload limit (KONTOR_MAX_UPLOAD_MB)."),
        mb=limit // (1024 * 1024),
    )


def register_local_file(source: str | Path, *, actor: Any = None) -> Import:
    """An import of a file on this machine (`kontor import`): copied into the instance folder."""
    source = Path(source)
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    path = upload_dir() / f"{secrets.token_hex(12)}{source.suffix.lower()}"
    shutil.copyfile(source, path)
    return _register(path, source.name, source.stat().st_size, digest.hexdigest(), actor)


def _register(path: Path, name: str, size: int, sha256: str, actor: Any) -> Import:
    try:
        info = reader.sniff(path, name)
    except ImportFileError:
        path.unlink(missing_ok=True)
        raise
    customs = custom_field_triples()
    imp = Import(
        user_id=getattr(actor, "id", None),
        filename=name[:300],
        path=str(path),
        size=size,
        sha256=sha256,
        format=info.format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        header_line=info.header_line,
        headers=list(info.headers),
        mapping=mapping.suggest(info.headers, customs),
        options=default_options(),
        state="draft",
        total_estimate=info.total_estimate,
    )
    db.session.add(imp)
    db.session.flush()
    return imp


def discard(imp: Import) -> None:
    """Forget a draft import and its stored file."""
    Path(imp.path).unlink(missing_ok=True)
    db.session.delete(imp)


def targets() -> list[mapping.Target]:
    """What a column can be mapped to (fields, tags, lists, custom fields)."""
    return mapping.targets(custom_field_triples())


def set_mapping(imp: Import, chosen: list[str]) -> dict[int, str]:
    """Save the column mapping; return {column: error} ({} when it is usable)."""
    chosen = [(c or "").strip() for c in chosen][: len(imp.headers)]
    chosen += [""] * (len(imp.headers) - len(chosen))
    errors = mapping.validate_mapping(chosen, imp.headers, custom_field_triples())
    imp.mapping = chosen
    return errors


def clean_options(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Options from the wizard's form, the API's JSON or the CLI; (options, {field: error})."""
    errors: dict[str, str] = {}
    options = default_options()
    policy = (form.get("policy") or "update").strip()
    if policy not in POLICIES:
        errors["policy"] = Message(N_("Choose one of: %(choices)s."), choices=", ".join(POLICIES))
    options["policy"] = policy
    defaults: dict[str, Any] = {}
    for name in DEFAULT_FIELDS:
        raw = form.get(name)
        if raw is None:
            raw = (
                form.get("defaults", {}).get(name)
                if isinstance(form.get("defaults"), dict)
                else None
            )
        if name == "consent_type" and raw is None:
            raw = "imported"
        if raw in (None, ""):
            continue
        try:
            value = clean_value(BY_NAME[name], raw)
        except FieldError as exc:
            errors[name] = exc.message
            continue
        if value not in (None, "unknown"):
            defaults[name] = value
    owner = form.get("owner") or form.get("owner_id")
    if owner:
        user = None
        if str(owner).isdigit():
            user = db.session.get(User, int(owner))
        else:
            user = db.session.scalar(select(User).where(User.email == str(owner).strip().lower()))
        if user is None:
            errors["owner"] = N_("No such user.")
        else:
            defaults["owner_id"] = user.id
    options["defaults"] = defaults
    tags = form.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    options["tags"] = list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
    if any(len(t) > 100 for t in options["tags"]):
        errors["tags"] = N_("A tag is at most 100 characters.")
    lists = form.get("list_ids") or form.get("lists") or []
    if isinstance(lists, (str, int)):
        lists = [lists]
    list_ids = []
    for value in lists:
        text = str(value).strip()
        if not text:
            continue
        lst = db.session.get(ContactList, int(text)) if text.isdigit() else None
        if lst is None:
            lst = db.session.scalar(
                select(ContactList).where(func.lower(ContactList.name) == text.lower())
            )
        if lst is None:
            errors["lists"] = Message(N_("No list named %(name)s."), name=text)
            continue
        list_ids.append(lst.id)
    options["list_ids"] = list(dict.fromkeys(list_ids))
    status = form.get("list_status") or "subscribed"
    if status not in SUBSCRIPTION_STATUSES:
        errors["list_status"] = Message(
            N_("Choose one of: %(choices)s."), choices=", ".join(SUBSCRIPTION_STATUSES)
        )
    options["list_status"] = status
    return options, errors


def opted_in_warning(imp: Import) -> bool:
    """True when the import marks contacts as Opted In (they must really have consented)."""
    defaults = (imp.options or {}).get("defaults") or {}
    return defaults.get("consent_status") == "opted_in" or "consent_status" in (imp.mapping or [])


@dataclass
class PreviewRow:
    """A row as it will be saved: the values per target, its errors and what happens to it."""

    row_number: int
    cells: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    action: str = "create"  # create | update | skip | fail
    # existing contacts a new contact looks like (dicts from dedupe.check.possible_duplicates)
    possible_duplicates: list[dict[str, Any]] = field(default_factory=list)


def preview(imp: Import, n: int = 20) -> list[PreviewRow]:
    """The first `n` rows validated like the job will, with what would happen to each."""
    plan = engine.build_plan(imp)
    out: list[PreviewRow] = []
    emails = []
    for row_number, cells in reader.read_preview(imp.path, engine.file_info(imp), n):
        prepared, errors = prepare(plan, cells)
        row = PreviewRow(row_number, cells)
        if prepared is None:
            row.errors = errors
            row.action = "fail"
        else:
            row.values = {"email": prepared.email, **_shown(prepared)}
            emails.append(prepared.email)
        out.append(row)
    existing = set()
    if emails:
        existing = set(db.session.scalars(select(Contact.email).where(Contact.email.in_(emails))))
    policy = (imp.options or {}).get("policy", "update")
    seen: set[str] = set()
    for row in out:
        email = row.values.get("email")
        if row.action == "fail" or email is None:
            continue
        if email in existing or email in seen:
            row.action = {"update": "update", "skip": "skip", "create": "fail"}[policy]
            if email in seen:
                row.action = "update"
            elif policy == "create":
                row.errors = {"email": N_("A contact with this email exists already.")}
        seen.add(email)
    _mark_possible_duplicates(out)
    return out


def _mark_possible_duplicates(rows: list[PreviewRow]) -> None:
    """Rows that would create a contact looking like an existing one (fuzzy match)."""
    from app.dedupe.check import possible_duplicates

    for row in rows:
        if row.action != "create":
            continue
        values = {k: v for k, v in row.values.items() if isinstance(v, (str, list))}
        row.possible_duplicates = possible_duplicates(values, limit=2)


def _shown(prepared) -> dict[str, Any]:
    by_column = {spec.db_column: spec.name for spec in BY_NAME.values()}
    out: dict[str, Any] = {}
    for column, value in prepared.values.items():
        out[by_column.get(column, column)] = value
    out.update(prepared.refs)
    if prepared.tags:
        out["tags"] = prepared.tags
    if prepared.lists:
        out["lists"] = prepared.lists
    for name, vals in prepared.custom.items():
        out[f"custom.{name}"] = vals
    return out


def _create_new_fields(imp: Import, actor: Any) -> None:
    """Columns mapped to "new:<label>" become text custom fields before the run."""
    chosen = list(imp.mapping or [])
    for i, target in enumerate(chosen):
        if not target.startswith("new:"):
            continue
        label = target[4:].strip() or imp.headers[i]
        existing = db.session.scalar(
            select(CustomField).where(
                (func.lower(CustomField.label) == label.lower())
                | (CustomField.name == customfields.slug(label))
            )
        )
        if existing is None:
            existing = customfields.create_field(
                {"label": label, "type": "text"}, actor=actor, via="import"
            )
        chosen[i] = f"custom.{existing.name}"
    imp.mapping = chosen


def start(imp: Import, *, actor: Any = None, enqueue: bool = True) -> Job:
    """Check the mapping, create needed custom fields and queue the import job (commits).

    With enqueue=False the caller runs the job itself (`kontor import` does).
    """
    if imp.state != "draft":
        raise ValidationFailed({"import": N_("This import has started already.")})
    errors = mapping.validate_mapping(imp.mapping or [], imp.headers, custom_field_triples())
    if errors:
        raise ValidationFailed({f"column_{k}": v for k, v in errors.items()})
    _create_new_fields(imp, actor)
    job = runner.create(
        "import",
        {"import_id": imp.id},
        title=gettext("Import %(file)s", file=imp.filename),
        actor=actor,
        total=imp.total_estimate,
    )
    imp.job_id = job.id
    imp.state = "started"
    audit.record(
        "start",
        "import",
        imp.id,
        {"file": imp.filename, "mapping": dict(zip(imp.headers, imp.mapping, strict=False))},
        actor=actor,
        via="import",
    )
    db.session.commit()
    if enqueue:
        queue.enqueue(job.id)
    return job


def can_undo(imp: Import) -> bool:
    """An import can be undone once, after its job stopped (done, failed or cancelled)."""
    if imp.state != "started" or imp.undo_job_id is not None or imp.job_id is None:
        return False
    job = db.session.get(Job, imp.job_id)
    return job is not None and job.finished


def undo(imp: Import, *, actor: Any = None) -> Job:
    """Queue the job that undoes the import (commits)."""
    if not can_undo(imp):
        raise ValidationFailed({"import": N_("This import cannot be undone now.")})
    job = runner.create(
        "import_undo",
        {"import_id": imp.id},
        title=gettext("Undo import %(file)s", file=imp.filename),
        actor=actor,
    )
    imp.undo_job_id = job.id
    audit.record("undo_start", "import", imp.id, {"file": imp.filename}, actor=actor, via="import")
    db.session.commit()
    queue.enqueue(job.id)
    return job


def summary(imp: Import) -> dict[str, Any]:
    """created / updated / unchanged / skipped / failed so far (live while the job runs)."""
    job = db.session.get(Job, imp.job_id) if imp.job_id else None
    source = (job.result or job.checkpoint or {}) if job else {}
    return {key: int(source.get(key, 0)) for key in engine.COUNTS}


def error_count(imp: Import) -> int:
    return db.session.scalar(
        select(func.count()).select_from(ImportRowError).where(ImportRowError.import_id == imp.id)
    )


def error_csv(imp: Import) -> Iterator[str]:
    """The refused rows as CSV: the original columns, then the row number and the reason."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*imp.headers, "Row", "Error"])
    yield "\ufeff" + buffer.getvalue()
    after = 0
    while True:
        rows = db.session.execute(
            select(
                ImportRowError.id,
                ImportRowError.row_number,
                ImportRowError.reason,
                ImportRowError.cells,
            )
            .where(ImportRowError.import_id == imp.id, ImportRowError.id > after)
            .order_by(ImportRowError.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for rid, row_number, why, cells in rows:
            cells = list(cells or [])
            cells += [""] * (len(imp.headers) - len(cells))
            writer.writerow([*(_safe(c) for c in cells), row_number, why])
            after = rid
        yield buffer.getvalue()


def _safe(cell: str) -> str:
    """Neutralise a cell that a spreadsheet would run as a formula."""
    if cell and cell[0] in "=+-@\t\r":
        return "'" + cell
    return cell


def consent_choices() -> dict[str, str]:
    return CONSENT_STATUSES


def consent_type_choices() -> dict[str, str]:
    return CONSENT_TYPES


def find_resumable(sha256: str, options: dict[str, Any], mapping_: list[str]) -> Import | None:
    """An unfinished import of the same file with the same mapping and options (CLI re-run)."""
    rows = db.session.scalars(
        select(Import)
        .where(Import.sha256 == sha256, Import.state == "started")
        .order_by(Import.id.desc())
    )
    for imp in rows:
        job = db.session.get(Job, imp.job_id) if imp.job_id else None
        if job is None or job.finished:
            continue
        if imp.options == options and imp.mapping == mapping_:
            return imp
    return None


__all__ = ["ImportFileError", "reason"]
