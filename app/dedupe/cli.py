"""`kontor dedupe scan`: the duplicate scan job, run in this process.

Progress goes to stderr; the last line on stdout is one JSON summary:
{"pairs": n, "clusters": n, "contacts": n, "seconds": s, "job": id, ...}. Running it
again after a crash resumes the unfinished scan from its checkpoint.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from app.dedupe import scan
from app.dedupe.matcher import MIN_THRESHOLD
from app.extensions import db
from app.imports.cli import Bar
from app.jobs import runner
from app.jobs.models import Job


@click.group("dedupe")
def dedupe_group() -> None:
    """Find duplicate contacts."""


@dedupe_group.command("scan")
@click.option(
    "--threshold",
    type=click.IntRange(MIN_THRESHOLD, 100),
    default=None,
    help=f"Score (0-100) from which a pair is suggested [default: {scan.DEFAULT_THRESHOLD}].",
)
@click.option("--rebuild-keys", is_flag=True, help="Recompute every contact's match keys first.")
@with_appcontext
def scan_command(threshold: int | None, rebuild_keys: bool) -> None:
    """Scan all contacts for duplicates (resumes an interrupted scan)."""
    runner.requeue_stalled(stale_after=10**9)  # only jobs whose process is gone
    job = runner.unfinished(scan.KIND)
    if job is not None and job.status == "running":
        raise click.ClickException(
            f"Scan job {job.id} is running in process {job.worker}; follow it with the web page."
        )
    if job is not None:
        click.echo(f"Resuming scan job {job.id} from its checkpoint.", err=True)
    else:
        job = scan.start_scan(
            None, threshold=threshold, rebuild=rebuild_keys, via="cli", enqueue=False
        )
    job_id = job.id
    bar = Bar()
    status = runner.execute(job_id, on_commit=bar)
    bar.close()
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    line = dict(job.result or {})
    line["job"] = job.id
    if job.status != "done":
        line["status"] = job.status
        line["errors"] = job.errors or []
    click.echo(json.dumps(line))
    if status not in ("done", None):
        sys.exit(1)
