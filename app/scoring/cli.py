"""`kontor scoring recompute`: recompute every lead score in this process.

Progress goes to stderr; the last line on stdout is one JSON summary:
{"job": id, "status": "done", "rescored": n, "changed": n, "crossings_up": n,
"crossings_down": n}. An unfinished recompute whose process died is resumed from its
checkpoint instead of starting over.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from app.extensions import db
from app.imports.cli import Bar
from app.jobs import runner
from app.jobs.models import Job
from app.scoring import service


@click.group("scoring")
def scoring_group() -> None:
    """Lead scoring."""


@scoring_group.command("recompute")
@with_appcontext
def recompute_command() -> None:
    """Recompute every contact's lead score from the enabled rules (resumes a killed run)."""
    runner.requeue_stalled(stale_after=10**9)  # only jobs whose process is gone
    job = runner.unfinished(service.JOB_KIND)
    if job is not None and job.status == "running":
        raise click.ClickException(
            f"Job {job.id} is running in process {job.worker}; follow it on its web page."
        )
    if job is not None and not (job.params or {}).get("ids"):
        click.echo(f"Resuming job {job.id} from its checkpoint.", err=True)
    else:
        job = service.request_recompute(db.session, reason="manual", enqueue=False)
        db.session.commit()
    rules = len(service.enabled_rules(db.session))
    click.echo(f"Recomputing lead scores with {rules} enabled rules (job {job.id}).", err=True)
    bar = Bar()
    job_id = job.id
    status = runner.execute(job_id, on_commit=bar)
    bar.close()
    job = db.session.get(Job, job_id)
    result = job.result or {}
    line = {
        "job": job.id,
        "status": job.status,
        "rescored": result.get("rescored", 0),
        "changed": result.get("changed", 0),
        "crossings_up": result.get("crossings_up", 0),
        "crossings_down": result.get("crossings_down", 0),
    }
    if job.status != "done":
        line["errors"] = job.errors or []
    click.echo(json.dumps(line))
    if status not in ("done",):
        sys.exit(1)
