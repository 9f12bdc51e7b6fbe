"""`kontor import FILE`: the wizard's code path from the command line.

Progress goes to stderr; the last line on stdout is one JSON summary:
{"created": n, "updated": n, "skipped": n, "failed": n, "job": id}. Re-running the
same command after a crash resumes the unfinished import from its checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app import audit
from app.contacts.fields import ValidationFailed
from app.extensions import db
from app.imports import engine, mapping, reader, service
from app.imports.models import Import
from app.imports.reader import ImportFileError
from app.jobs import runner
from app.jobs.models import Job
from app.lists.models import ContactList


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _mapping(headers: list[str], overrides: tuple[str, ...]) -> list[str]:
    chosen = mapping.suggest(headers, service.custom_field_triples())
    by_name = {h.casefold(): i for i, h in enumerate(headers)}
    for item in overrides:
        header, sep, target = item.partition("=")
        if not sep:
            raise click.BadParameter(f'expected "Header=field", got {item!r}', param_hint="--map")
        index = by_name.get(header.strip().casefold())
        if index is None:
            raise click.BadParameter(
                f"no column {header!r}; the columns are: {', '.join(headers)}", param_hint="--map"
            )
        chosen[index] = target.strip()
    return chosen


def _ensure_lists(names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:
        name = name.strip()
        lst = db.session.scalar(
            select(ContactList).where(func.lower(ContactList.name) == name.lower())
        )
        if lst is None:
            lst = ContactList(name=name)
            db.session.add(lst)
            db.session.flush()
            audit.record("create", "list", lst.id, {"name": name}, via="cli")
            click.echo(f"Created list {name!r}.", err=True)
        out.append(str(lst.id))
    return out


class Bar:
    """A one-line progress bar on stderr."""

    def __init__(self) -> None:
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, job: Job) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 2.0):
            return
        self.last = now
        total = job.total or 0
        pct = f"{job.percent:3d}%" if job.percent is not None else "   ?"
        width = 30
        filled = int(width * (job.percent or 0) / 100)
        rate = f"{job.rate:,.0f} rows/s" if job.rate else ""
        eta = f"ETA {job.eta_seconds}s" if job.eta_seconds is not None else ""
        line = f"[{'#' * filled}{'.' * (width - filled)}] {pct} {job.done:,}/{total:,} {rate} {eta}"
        click.echo(("\r" + line) if self.tty else line, err=True, nl=not self.tty)

    def close(self) -> None:
        if self.tty:
            click.echo("", err=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map", "maps", multiple=True, help='Map a column: "Header=field" ("Header=" ignores it).'
)
@click.option(
    "--list", "lists", multiple=True, help="Add every contact to this list (created if missing)."
)
@click.option("--tag", "tags", multiple=True, help="Tag every contact.")
@click.option(
    "--policy",
    type=click.Choice(["update", "skip", "create"]),
    default="update",
    show_default=True,
    help="Existing emails: update them, skip them, or refuse them (create only).",
)
@click.option("--consent", default=None, help="Consent status for contacts without one.")
@click.option("--source", default=None, help="Source for contacts without one.")
@click.option("--owner", default=None, help="Owner (user email) for contacts without one.")
@click.option("--dry-run", is_flag=True, help="Check every row and count, but save nothing.")
@with_appcontext
def import_command(file, maps, lists, tags, policy, consent, source, owner, dry_run) -> None:
    """Import contacts from a CSV, TSV or vCard file (resumes an interrupted run)."""
    try:
        info = reader.sniff(file, file.name)
    except ImportFileError as exc:
        raise click.ClickException(str(exc.message)) from None
    chosen = _mapping(list(info.headers), maps)
    form = {"policy": policy, "tags": list(tags), "consent_status": consent, "source": source}
    if owner:
        form["owner"] = owner
    problems = mapping.validate_mapping(chosen, info.headers, service.custom_field_triples())
    if problems:
        lines = [f"{info.headers[i] if i >= 0 else 'mapping'}: {m}" for i, m in problems.items()]
        raise click.ClickException("; ".join(lines))
    click.echo(
        "Columns: "
        + ", ".join(
            f"{h} -> {t or '(ignored)'}" for h, t in zip(info.headers, chosen, strict=False)
        ),
        err=True,
    )
    if dry_run:
        _dry_run(file, chosen, form, lists)
        return
    form["list_ids"] = _ensure_lists(lists)
    options, errors = service.clean_options(form)
    if errors:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in errors.items()))
    imp = service.find_resumable(_sha256(file), options, chosen)
    if imp is not None:
        click.echo(f"Resuming import {imp.id} (job {imp.job_id}) from its checkpoint.", err=True)
        runner.requeue_stalled(stale_after=10**9)  # only jobs whose process is gone
        job = db.session.get(Job, imp.job_id)
        if job.status == "running":
            raise click.ClickException(
                f"Job {job.id} is running in process {job.worker}; follow it with the web page."
            )
    else:
        try:
            imp = service.register_local_file(file)
        except ImportFileError as exc:
            raise click.ClickException(str(exc.message)) from None
        imp.options = options
        imp.mapping = chosen
        try:
            job = service.start(imp, enqueue=False)
        except ValidationFailed as exc:
            raise click.ClickException(str(exc)) from None
    bar = Bar()
    import_id, job_id = imp.id, imp.job_id
    status = runner.execute(job_id, on_commit=bar)
    bar.close()
    imp = db.session.get(Import, import_id)
    job = db.session.get(Job, job_id)
    summary = service.summary(imp)
    line = {k: summary[k] for k in ("created", "updated", "skipped", "failed")}
    line.update(unchanged=summary["unchanged"], job=job.id, import_id=imp.id)
    if job.status != "done":
        line["status"] = job.status
        line["errors"] = job.errors or []
    failed = service.error_count(imp)
    if failed:
        click.echo(f"{failed} rows refused; see the import's error file in the web page.", err=True)
    click.echo(json.dumps(line))
    if status not in ("done", None):
        sys.exit(1)


def _dry_run(file: Path, chosen: list[str], form: dict, lists: tuple[str, ...]) -> None:
    """Run every batch in one transaction, report the counts, roll everything back."""
    form["list_ids"] = _ensure_lists(lists)
    options, errors = service.clean_options(form)
    if errors:
        db.session.rollback()
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in errors.items()))
    info = reader.sniff(file, file.name)
    imp = Import(
        filename=file.name,
        path=str(file),
        size=file.stat().st_size,
        sha256="",
        format=info.format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        header_line=info.header_line,
        headers=list(info.headers),
        mapping=chosen,
        options=options,
    )
    db.session.add(imp)
    db.session.flush()
    counts = dict.fromkeys(engine.COUNTS, 0)
    plan = engine.build_plan(imp)
    caches = engine.Caches()
    for chunk in engine.checked_batches(str(file), info, plan, 0, info.total_estimate):
        batch = engine.Batch(imp, plan, caches, options)
        for key, n in batch.run(chunk).items():
            counts[key] += n
    db.session.rollback()
    line = {k: counts[k] for k in ("created", "updated", "skipped", "failed")}
    line.update(unchanged=counts["unchanged"], job=None, dry_run=True)
    click.echo(json.dumps(line))
