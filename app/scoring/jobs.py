"""The recompute job ("scoring_recompute"): every contact's score (or those of the ids
in its params) by chunks of contacts in id order, each chunk committed with a checkpoint
{"after_id", "rescored", "changed", "up", "down"}, so a job killed halfway resumes after
the last committed chunk. Also the daily run: scores move with time (activity windows,
decay, date conditions), so the worker queues a recompute every night while a rule is
enabled.
"""

from __future__ import annotations

from typing import Any

from huey import crontab
from sqlalchemy import func, select

from app.contacts.models import Contact
from app.extensions import db
from app.jobs import queue, runner
from app.jobs.runner import JobRun
from app.scoring import service

CHUNK = 2_000
_contacts = Contact.__table__


def _chunks(run: JobRun, after_id: int):
    """Yield ("ids", [...]) or ("range", (lo, hi)) chunks of contacts after `after_id`,
    with the chunk's last id."""
    ids = run.params.get("ids")
    if ids is not None:
        remaining = sorted({int(i) for i in ids if int(i) > after_id})
        for start in range(0, len(remaining), CHUNK):
            chunk = remaining[start : start + CHUNK]
            yield {"ids": chunk}, chunk[-1]
        return
    while True:
        chunk = list(
            db.session.scalars(
                select(_contacts.c.id)
                .where(_contacts.c.id > after_id)
                .order_by(_contacts.c.id)
                .limit(CHUNK)
            )
        )
        if not chunk:
            return
        after_id = chunk[-1]
        yield {"id_range": (chunk[0], chunk[-1])}, after_id


@runner.handler(service.JOB_KIND)
def run_recompute(run: JobRun) -> dict[str, Any]:
    """Rescore every contact (or the params' ids) chunk by chunk, from the checkpoint."""
    plan = service.prepare(db.session)
    checkpoint = {"after_id": 0, "rescored": 0, "changed": 0, "up": 0, "down": 0}
    checkpoint.update(run.checkpoint or {})
    ids = run.params.get("ids")
    if ids is not None:
        total = len({int(i) for i in ids})
    else:
        total = db.session.scalar(select(func.count()).select_from(_contacts)) or 0
    run.progress(checkpoint["rescored"], max(total, checkpoint["rescored"]))
    for scope, last_id in _chunks(run, int(checkpoint["after_id"])):
        stats = service.rescore(db.session, plan, **scope)
        checkpoint = {
            "after_id": last_id,
            "rescored": checkpoint["rescored"] + stats.rescored,
            "changed": checkpoint["changed"] + stats.changed,
            "up": checkpoint["up"] + stats.up,
            "down": checkpoint["down"] + stats.down,
        }
        done = checkpoint["rescored"]
        run.progress(done, max(total, done))
        run.commit(checkpoint)
    run.progress(checkpoint["rescored"], checkpoint["rescored"])
    return {
        "rescored": checkpoint["rescored"],
        "changed": checkpoint["changed"],
        "crossings_up": checkpoint["up"],
        "crossings_down": checkpoint["down"],
        "crossings": checkpoint["up"] + checkpoint["down"],
        "rules": len(plan.rules),
        "broken_rules": len(plan.broken),
        "threshold": plan.threshold,
    }


def queue_daily() -> int | None:
    """Queue tonight's recompute when a rule is enabled; the job's id (None: nothing to do)."""
    if not service.enabled_rules(db.session):
        return None
    job = service.request_recompute(db.session, reason="daily")
    db.session.commit()
    return job.id


@queue.periodic(crontab(minute="17", hour="3"), name="kontor.scoring_daily")
def daily() -> None:
    """The worker's nightly task (03:17 UTC)."""
    queue_daily()
