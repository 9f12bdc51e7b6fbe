"""The huey queue that carries job ids to workers.

SqliteHuey in the instance folder by default, RedisHuey when REDIS_URL is set.
The queue only carries a job's id: the job's state lives in the jobs table, so a
lost queue message costs nothing (the worker re-queues unfinished jobs at start).

JOBS_QUEUE selects how queued jobs reach a worker: "huey" (default), or "manual"
(nothing is sent; `runner.run_pending()` runs them, which the tests use).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from app.jobs import runner

log = logging.getLogger(__name__)
# An idle worker looks at the queue at least every 2 s (huey's default backs off to 10 s),
# so a job started from a page begins at once.
CONSUMER = {"periodic": True, "initial_delay": 0.1, "backoff": 1.15, "max_delay": 2.0}
# Tasks a capability runs on a schedule: (crontab, name, fn), declared with @periodic.
_PERIODIC: list[tuple[Callable, str, Callable[[], None]]] = []


def periodic(schedule: Callable, name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Declare `fn()` to run on a huey `crontab` schedule, inside an app context, in the
    worker. Declare it at import time of a module the app imports before init_app."""

    def decorator(fn: Callable[[], None]) -> Callable[[], None]:
        _PERIODIC[:] = [p for p in _PERIODIC if p[1] != name]
        _PERIODIC.append((schedule, name, fn))
        return fn

    return decorator


def init_app(app: Flask) -> None:
    """Create the app's huey instance and register the task that runs a job."""
    name = app.config.get("JOBS_QUEUE_NAME", "kontor")
    if app.config.get("REDIS_URL"):
        huey = RedisHuey(name, url=app.config["REDIS_URL"], results=False)
    else:
        path = app.config["INSTANCE_DIR"] / "queue.db"
        huey = SqliteHuey(name, filename=str(path), results=False)

    @huey.task(name="kontor.run_job")
    def run_job(job_id: int) -> None:
        with app.app_context():
            runner.execute(job_id)

    @huey.periodic_task(crontab(minute="*"), name="kontor.recover_jobs")
    def recover_jobs() -> None:
        with app.app_context():
            for job_id in runner.requeue_stalled():
                run_job(job_id)

    for schedule, task_name, fn in _PERIODIC:

        def scheduled(fn: Callable[[], None] = fn) -> None:
            with app.app_context():
                fn()

        huey.periodic_task(schedule, name=task_name)(scheduled)

    app.extensions["huey"] = huey
    app.extensions["kontor.run_job"] = run_job


def enqueue(job_id: int) -> None:
    """Hand a committed, queued job to the workers."""
    if current_app.config.get("JOBS_QUEUE", "huey") == "manual":
        return
    current_app.extensions["kontor.run_job"](job_id)


def recover() -> list[int]:
    """At worker start: re-queue jobs whose worker died and queued jobs the queue lost."""
    stalled = runner.requeue_stalled()
    ids = runner.pending_ids()
    for job_id in ids:
        enqueue(job_id)
    return sorted(set(stalled) | set(ids))


class _QuietConsumer(Consumer):
    """A consumer that leaves signal handling to its host process (the web server)."""

    def _set_signal_handlers(self) -> None:
        pass


def start_in_process(app: Flask, workers: int = 1) -> Consumer:
    """Run a huey consumer on threads inside this process (used by `kontor run`)."""
    huey = app.extensions["huey"]
    consumer = _QuietConsumer(huey, workers=workers, worker_type="thread", **CONSUMER)
    consumer.start()
    with app.app_context():
        recover()

    def loop() -> None:  # the health checks and stop handling Consumer.run() would do
        import time

        ts = time.monotonic()
        while not consumer.stop_flag.is_set():
            try:
                ts = consumer.loop(ts)
            except Exception:  # pragma: no cover - consumer stopped
                break

    threading.Thread(target=loop, name="kontor-consumer", daemon=True).start()
    return consumer


def run_worker(app: Flask, workers: int = 1) -> None:
    """Run a huey consumer in the foreground until interrupted (`kontor worker`)."""
    huey = app.extensions["huey"]
    with app.app_context():
        ids = recover()
    if ids:
        log.info("re-queued jobs %s", ids)
    Consumer(huey, workers=workers, worker_type="thread", **CONSUMER).run()
