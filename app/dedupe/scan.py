"""The duplicate scan: a resumable job over every contact, never an N x N comparison.

Phase 1 (``keys``) brings the match keys up to date in chunks of contacts, by id: all
of them when the key rules changed since they were built (or on request), else only
contacts that have none yet (those written without contact events, such as seeded
data); the listener in app.dedupe.index keeps the others current.

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
from collections import OrderedDict
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
    Features,
    clusters,
    contact_values,
    one_of,
    score_features,
)
from app.dedupe.models import DuplicatePair, MatchKey
from app.extensions import db
from app.jobs import queue, runner
from app.jobs.models import Job
from app.jobs.runner import JobRun
from app.timeutil import utcnow

KIND = "dedupe_scan"
SPLIT_ABOVE = 20  # a bigger block is split by name (Soundex) before comparing
BLOCK_CAP = 200  # a bigger group after that is not compared
HUGE_BLOCK = 5000  # a bigger block is not compared at all
KEY_CHUNK = 10_000  # contacts per phase-1 commit
BLOCK_CHUNK = 20000  # block members per phase-2 commit
FEATURE_CACHE = 20_000  # contacts whose features stay cached between chunks
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


class _FeatureCache:
    """Features of recently compared contacts (bounded), loaded in batches."""

    def __init__(self, size: int, region: str | None):
        self.size = size
        self.region = region
        self.items: OrderedDict[int, Features] = OrderedDict()

    def load(self, ids: set[int]) -> dict[int, Features]:
        missing = [i for i in ids if i not in self.items]
        if missing:
            for cid, values in contact_values(db.session, missing).items():
                self.items[cid] = Features(values, self.region)
        out = {}
        for i in ids:
            feats = self.items.get(i)
            if feats is not None:
                self.items.move_to_end(i)
                out[i] = feats
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return out


def _groups(
    members: list[int], feats: dict[int, Features], split: int, cap: int
) -> list[list[int]]:
    """The members of a block to compare with each other: all of them, or for a block of
    more than `split` (a shared switchboard number, a big company), those whose names
    sound alike (the Soundex name key), in groups of at most `cap`."""
    if len(members) <= split:
        return [members]
    by_name: dict[str, list[int]] = {}
    for cid in members:
        f = feats.get(cid)
        if f is None:
            continue
        for key in f.name_keys:
            by_name.setdefault(key, []).append(cid)
    return [g for g in by_name.values() if 1 < len(g) <= cap]


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
            index.start_staging(session, full=full)
        full = cp["mode"] == "full"
        chunk = _config("DEDUPE_KEY_CHUNK", KEY_CHUNK)
        message = gettext("Indexing contacts")
        while cp["missing"]:
            with _quiet_gc():
                last, n, staged = index.stage_keys(
                    session, cp["after_id"], chunk, only_missing=not full
                )
            if last is None:
                break
            done = cp["scanned"] + chunk
            self.run.progress(min(done, self.contacts), self.total, message)
            self.commit(
                after_id=last, scanned=done, indexed=cp["indexed"] + n, keys=cp["keys"] + staged
            )
        self.run.progress(self.contacts, self.total, message)
        index.merge_staged(session, full=full)
        if full:
            index.set_keys_version(session)
        self.run.progress(self.contacts, self.total, gettext("Comparing candidates"))
        self.commit(phase="pairs", after_key="")
        if full:
            index.vacuum_keys(session)

    # ---- phase 2

    def find_pairs(self) -> None:
        cp = self.cp
        for name in ("pairs", "compared", "blocks", "split", "skipped"):
            cp.setdefault(name, 0)
        budget = _config("DEDUPE_BLOCK_CHUNK", BLOCK_CHUNK)
        cap = _config("DEDUPE_BLOCK_CAP", BLOCK_CAP)
        split = _config("DEDUPE_SPLIT_ABOVE", SPLIT_ABOVE)
        huge = max(cap, _config("DEDUPE_HUGE_BLOCK", HUGE_BLOCK))
        cache = _FeatureCache(_config("DEDUPE_FEATURE_CACHE", FEATURE_CACHE), self.region)
        if not cp.get("cleared"):
            # Replace the last scan's suggestions: this delete commits with the first chunk.
            db.session.execute(delete(DuplicatePair).where(DuplicatePair.status == "open"))
            cp["cleared"] = True
        parts = sections()
        message = gettext("Comparing candidates")
        for number, prefix in enumerate(parts):
            end = _section_end(prefix)
            while True:
                after = max(cp["after_key"], prefix)
                if after >= end:
                    break
                found = db.session.execute(
                    _BLOCKS, {"after": after, "end": end, "limit": max(budget // 2, 10)}
                ).all()
                if not found:
                    cp["after_key"] = end
                    break
                chosen, size = [], 0
                for key, n in found:
                    if chosen and size + min(n, huge) > budget:
                        break
                    chosen.append((key, n))
                    size += min(n, huge)
                with _quiet_gc():
                    self._compare(chosen, cache, split, cap, huge)
                last_key = chosen[-1][0]
                fraction = (number + _position(last_key, prefix)) / len(parts)
                done = self.contacts + int(fraction * self.contacts)
                self.run.progress(min(done, self.total - 1), self.total, message)
                self.commit(after_key=last_key)
        self.run.progress(self.total - 1, self.total, gettext("Grouping clusters"))
        self.commit(phase="clusters")

    def _compare(self, chosen: list[tuple[str, int]], cache: _FeatureCache, split, cap, huge):
        cp = self.cp
        keys = [k for k, n in chosen if n <= huge]
        cp["skipped"] += len(chosen) - len(keys)
        cp["blocks"] += len(chosen)
        members: dict[str, list[int]] = {}
        if keys:
            rows = db.session.execute(
                select(MatchKey.key, MatchKey.contact_id)
                .where(one_of(db.session, MatchKey.key, keys))
                .order_by(MatchKey.key, MatchKey.contact_id)
            )
            for key, cid in rows:
                members.setdefault(key, []).append(cid)
        ids = {cid for group in members.values() for cid in group}
        feats = cache.load(ids)
        seen: set[tuple[int, int]] = set()
        out: list[dict[str, Any]] = []
        threshold, job_id = self.threshold, self.run.id
        compared = 0
        now = utcnow()
        for group_all in members.values():
            groups = _groups(group_all, feats, split, cap)
            if len(group_all) > split:
                cp["split"] += 1
            for group in groups:
                n = len(group)
                for i in range(n - 1):
                    a = group[i]
                    fa = feats.get(a)
                    if fa is None:
                        continue
                    for j in range(i + 1, n):
                        b = group[j]
                        if (a, b) in seen:
                            continue
                        seen.add((a, b))
                        fb = feats.get(b)
                        if fb is None:
                            continue
                        compared += 1
                        score, reasons = score_features(fa, fb)
                        if score >= threshold:
                            out.append(
                                {
                                    "contact_a_id": a,
                                    "contact_b_id": b,
                                    "score": score,
                                    "reasons": reasons,
                                    "status": "open",
                                    "job_id": job_id,
                                    "created_at": now,
                                }
                            )
        _insert_pairs(out)
        cp["compared"] += compared
        cp["pairs"] += len(out)

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
    if phase == "keys":
        scan.build_keys()
        phase = "pairs"
    if phase == "pairs":
        scan.find_pairs()
        phase = "clusters"
    if phase == "clusters":
        return scan.group_clusters()
    return dict(scan.cp.get("result") or {})
