"""The duplicate scan: a resumable job over every contact, never an N x N comparison.

Phase 1 (``keys``) brings the match keys up to date in chunks of contacts, by id: all
of them when the key rules changed since they were built, on request, or when many
contacts have none (written without contact events, such as seeded data), else only
contacts that have none yet; the listener in app.dedupe.index keeps the others current
(app.dedupe.index explains how a full rebuild stays fast).

Phase 2 (``pairs``) reads the keys in key order, a chunk of blocks at a time: one
grouped query over the primary-key index finds the next blocks of two or more
contacts sharing a key, a second reads their members, their values are loaded and
every pair within a block is scored (a block bigger than SPLIT_ABOVE, such as a
switchboard number or a big company, is split into people whose names sound alike;
one bigger than HUGE_BLOCK is skipped). Pairs at or above the threshold are written as
open suggestions; the first chunk's commit also deletes the previous scan's open
pairs, and a pair already dismissed (or merged) is never written again (the unique
(a, b) index ignores it).

Phase 3 (``clusters``) joins the pairs into connected components (union-find): every
pair of one person gets the smallest contact id of its component as cluster_id.

Each chunk commits with its checkpoint, so a killed scan resumes where it stopped and
ends with the same pairs. Memory holds one chunk of blocks, plus the pairs found for
the last phase.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, delete, func, select, update

from app import audit
from app.contacts.models import Contact
from app.dedupe import index
from app.dedupe import keys as K
from app.dedupe.matcher import (
    DEFAULT_THRESHOLD,
    clusters,
)
from app.dedupe.models import DuplicatePair, MatchKey
from app.dedupe.workers import dispose_engines, keys_task, score_task
from app.extensions import db
from app.jobs import queue, runner
from app.jobs.models import Job
from app.jobs.runner import JobRun
from app.parallel import Workers, default_processes
from app.timeutil import utcnow

KIND = "dedupe_scan"
SPLIT_ABOVE = 20  # a bigger block is split by name (Soundex) before comparing
BLOCK_CAP = 200  # a bigger group after that is not compared
HUGE_BLOCK = 5000  # a bigger block is not compared at all
KEY_CHUNK = 10_000  # contacts per phase-1 commit
BLOCK_CHUNK = 20000  # block members per phase-2 commit
PARALLEL_MIN = 50_000  # contacts from which the scan works in worker processes
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Chunks make many short-lived objects and no reference cycles: the cyclic garbage
    collector would only rescan them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _config(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def start_scan(
    actor: Any = None,
    *,
    threshold: int | None = None,
    rebuild: bool = False,
    via: str = "web",
    enqueue: bool = True,
) -> Job:
    """Queue a duplicate scan (commits), or return the unfinished one already queued."""
    existing = runner.unfinished(KIND)
    if existing is not None:
        return existing
    threshold = DEFAULT_THRESHOLD if threshold is None else int(threshold)
    total = db.session.scalar(select(func.count()).select_from(Contact)) or 0
    job = runner.create(
        KIND,
        {"threshold": threshold, "rebuild": bool(rebuild)},
        title=gettext("Scan for duplicates"),
        actor=actor,
        total=2 * total,
    )
    audit.record("start", "dedupe_scan", job.id, {"threshold": threshold}, actor=actor, via=via)
    db.session.commit()
    if enqueue:
        queue.enqueue(job.id)
    return job


def sections() -> list[str]:
    """The key prefixes a scan reads, in key order."""
    return sorted(K.EVIDENCE_PREFIXES)


def _section_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _position(key: str, prefix: str) -> float:
    """Roughly how far into its section a key is (0..1), from its first two characters."""
    rest = key[len(prefix) :]
    out, scale = 0.0, 1.0
    for ch in rest[:2]:
        scale /= len(_ALPHABET) + 1
        out += (_ALPHABET.find(ch) + 1) * scale
    return min(out, 1.0)


def _insert_pairs(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = DuplicatePair.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).on_conflict_do_nothing(
        index_elements=[table.c.contact_a_id, table.c.contact_b_id]
    )
    db.session.execute(stmt, rows)


_BLOCKS = (
    select(MatchKey.key, func.count().label("n"))
    .where(MatchKey.key > bindparam("after"), MatchKey.key < bindparam("end"))
    .group_by(MatchKey.key)
    .having(func.count() > 1)
    .order_by(MatchKey.key)
    .limit(bindparam("limit"))
)


class Scan:
    """One run of the scan job (see the module docstring)."""

    def __init__(self, run: JobRun):
        self.run = run
        self.threshold = int(run.params.get("threshold") or DEFAULT_THRESHOLD)
        cp = dict(run.checkpoint or {})
        self.cp = cp
        self.t0 = time.monotonic()
        self.seconds0 = float(cp.get("seconds", 0.0))
        self.contacts = int(cp.get("contacts") or 0)
        if not self.contacts:
            self.contacts = db.session.scalar(select(func.count()).select_from(Contact)) or 0
            cp["contacts"] = self.contacts
        self.total = 2 * max(self.contacts, 1)
        self.region = index.phone_region()
        self.url = db.engine.url.render_as_string(hide_password=False)

    def seconds(self) -> float:
        return round(self.seconds0 + time.monotonic() - self.t0, 2)

    def commit(self, **changes: Any) -> None:
        self.cp.update(changes)
        self.cp["seconds"] = self.seconds()
        self.run.commit(dict(self.cp))

    # ---- phase 1

    def build_keys(self) -> None:
        cp = self.cp
        session = db.session
        if "mode" not in cp:
            full = bool(self.run.params.get("rebuild")) or (
                index.keys_version(session) != K.KEYS_VERSION
            )
            missing = 0
            if not full:
                missing = index.count_missing(session)
                # many contacts without keys (loaded without contact events): rebuild all
                full = missing > max(_config("DEDUPE_KEY_CHUNK", KEY_CHUNK), self.contacts // 5)
            cp.update(
                phase="keys",
                mode="full" if full else "missing",
                missing=self.contacts if full else missing,
                after_id=0,
                indexed=0,
                keys=0,
                scanned=0,
            )
            index.start_build(session, full=full)
        full = cp["mode"] == "full"
        chunk = _config("DEDUPE_KEY_CHUNK", KEY_CHUNK)
        message = gettext("Indexing contacts")

        def chunks():
            after = cp["after_id"]
            while cp["missing"]:
                last = index.next_last(session, after, chunk)
                if last is None:
                    return
                yield last, (self.url, after, last, not full, self.region)
                after = last

        for last, (n, keys) in self.workers.map(keys_task, chunks()):
            index.write_keys(session, keys, full=full)
            done = cp["scanned"] + chunk
            self.run.progress(min(done, self.contacts), self.total, message)
            self.commit(
                after_id=last, scanned=done, indexed=cp["indexed"] + n, keys=cp["keys"] + len(keys)
            )
        self.run.progress(self.contacts, self.total, message)
        index.finish_build(session, full=full)
        self.run.progress(self.contacts, self.total, gettext("Comparing candidates"))
        self.commit(phase="pairs", after_key="")
        if full:
            index.vacuum_keys(session)

    # ---- phase 2

    def find_pairs(self) -> None:
        cp = self.cp
        for name in ("pairs", "compared", "blocks", "split", "skipped"):
            cp.setdefault(name, 0)
        if not cp.get("cleared"):
            # Replace the last scan's suggestions: this delete commits with the first chunk.
            db.session.execute(delete(DuplicatePair).where(DuplicatePair.status == "open"))
            cp["cleared"] = True
        parts = sections()
        message = gettext("Comparing candidates")
        job_id = self.run.id
        for (number, prefix, last_key, blocks, skipped), result in self.workers.map(
            score_task, self._chunks(parts)
        ):
            pairs, compared, split = result
            now = utcnow()
            _insert_pairs(
                [
                    {"contact_a_id": a, "contact_b_id": b, "score": score, "reasons": reasons,
                     "status": "open", "job_id": job_id, "created_at": now}
                    for a, b, score, reasons in pairs
                ]
            )  # fmt: skip
            cp["blocks"] += blocks
            cp["skipped"] += skipped
            cp["split"] += split
            cp["compared"] += compared
            cp["pairs"] += len(pairs)
            fraction = (number + _position(last_key, prefix)) / len(parts)
            done = self.contacts + int(fraction * self.contacts)
            self.run.progress(min(done, self.total - 1), self.total, message)
            self.commit(after_key=last_key)
        self.run.progress(self.total - 1, self.total, gettext("Grouping clusters"))
        self.commit(phase="clusters")

    def _chunks(self, parts: list[str]):
        """The score_task of each next chunk of blocks, key section by section, from the
        checkpoint on: ((section number, prefix, last key, blocks, blocks skipped), args)."""
        budget = _config("DEDUPE_BLOCK_CHUNK", BLOCK_CHUNK)
        cap = _config("DEDUPE_BLOCK_CAP", BLOCK_CAP)
        split = _config("DEDUPE_SPLIT_ABOVE", SPLIT_ABOVE)
        huge = max(cap, _config("DEDUPE_HUGE_BLOCK", HUGE_BLOCK))
        after = self.cp["after_key"]
        for number, prefix in enumerate(parts):
            end = _section_end(prefix)
            after = max(after, prefix)
            while after < end:
                found = db.session.execute(
                    _BLOCKS, {"after": after, "end": end, "limit": max(budget // 2, 10)}
                ).all()
                if not found:
                    break
                chosen, size = [], 0
                for key, n in found:
                    if chosen and size + min(n, huge) > budget:
                        break
                    chosen.append((key, n))
                    size += min(n, huge)
                keys = [k for k, n in chosen if n <= huge]
                after = chosen[-1][0]
                tag = (number, prefix, after, len(chosen), len(chosen) - len(keys))
                yield tag, (self.url, keys, self.region, self.threshold, split, cap)

    # ---- phase 3

    def group_clusters(self) -> dict[str, Any]:
        rows = db.session.execute(
            select(DuplicatePair.id, DuplicatePair.contact_a_id, DuplicatePair.contact_b_id)
            .where(DuplicatePair.status == "open")
            .order_by(DuplicatePair.id)
        ).all()
        cmap = clusters((a, b) for _, a, b in rows)
        params = [{"pid": pid, "cid": cmap[a]} for pid, a, _ in rows]
        if params:
            table = DuplicatePair.__table__
            db.session.execute(
                update(table)
                .where(table.c.id == bindparam("pid"))
                .values(cluster_id=bindparam("cid")),
                params,
                execution_options={"synchronize_session": False},
            )
        sizes: dict[int, int] = {}
        for cluster_id in cmap.values():
            sizes[cluster_id] = sizes.get(cluster_id, 0) + 1
        result = {
            "pairs": len(rows),
            "clusters": sum(1 for n in sizes.values() if n >= 3),
            "contacts_in_pairs": len(cmap),
            "contacts": self.contacts,
            "threshold": self.threshold,
            "compared": int(self.cp.get("compared", 0)),
            "blocks": int(self.cp.get("blocks", 0)),
            "blocks_split": int(self.cp.get("split", 0)),
            "blocks_skipped": int(self.cp.get("skipped", 0)),
            "keys_rebuilt": self.cp.get("mode") == "full",
            "contacts_indexed": int(self.cp.get("indexed", 0)),
            "seconds": self.seconds(),
        }
        self.run.progress(self.total, self.total, "")
        self.commit(phase="done", result=result)
        return result


@runner.handler(KIND)
def run_scan(run: JobRun) -> dict[str, Any]:
    """The dedupe_scan job: keys, pairs, clusters, each resumable from its checkpoint."""
    gc.freeze()  # what exists now (the app, its caches) stays out of the collector's scans
    scan = Scan(run)
    phase = scan.cp.get("phase", "keys")
    processes = 1
    if scan.contacts >= _config("DEDUPE_PARALLEL_MIN", PARALLEL_MIN):
        processes = int(current_app.config.get("DEDUPE_PROCESSES") or default_processes())
    try:
        with Workers(processes, preload=("app.dedupe.workers",)) as scan.workers, _quiet_gc():
            if phase == "keys":
                scan.build_keys()
                phase = "pairs"
            if phase == "pairs":
                scan.find_pairs()
                phase = "clusters"
    finally:
        dispose_engines()
    if phase == "clusters":
        return scan.group_clusters()
    return dict(scan.cp.get("result") or {})
