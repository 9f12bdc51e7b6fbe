"""The scan's work on every core: reading values, computing match keys, scoring blocks.

The scan's process decides the chunks (a range of contact ids, a run of keys) and
writes what comes back; worker processes (forked; from a fork server when the scan's
process runs other threads) read a chunk's values over their own database
connection, compute its keys or score its pairs with the pure functions of
app.dedupe.keys and app.dedupe.matcher, and answer with plain tuples, in order. A few
chunks are in flight at once, so reading, computing and writing overlap. With one
process (a small scan) app.parallel.Workers runs the same tasks in the scan's process.

Workers read only what is committed: the scan writes nothing a later chunk reads
(chunks are disjoint ranges of contacts, or of keys built and committed earlier).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, exists, select
from sqlalchemy.engine import Engine

from app.dedupe import keys as K
from app.dedupe.matcher import Features, one_of, score_features, value_rows, values_query
from app.dedupe.models import MatchKey
from app.extensions import WRITE_INTENT

Rows = tuple[tuple[str, ...], list[tuple]]  # column names, value rows
_ENGINES: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    """This process's engine for a database URL (one pool per process)."""
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = create_engine(url)
    return engine


@contextmanager
def _reading(url: str) -> Iterator[Connection]:
    """A connection that only reads (on SQLite a plain BEGIN, even inside a job that
    writes: it must not wait for the write lock the scan holds)."""
    token = WRITE_INTENT.set(False)
    try:
        with _engine(url).connect() as conn:
            yield conn
    finally:
        WRITE_INTENT.reset(token)


def dispose_engines() -> None:
    """Close this process's connections of the tasks (after a scan run in-process)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def _dicts(rows: Rows) -> Iterator[dict[str, Any]]:
    names, values = rows
    return (dict(zip(names, row, strict=True)) for row in values)


def key_rows(rows: Rows, region: str | None) -> list[tuple[int, str]]:
    """(contact_id, key) of every match key of these contacts, in primary-key order."""
    out = [(v["id"], key) for v in _dicts(rows) for key in K.match_keys(v, region)]
    out.sort()
    return out


def keys_task(
    url: str, after_id: int, last: int, only_missing: bool, region: str | None
) -> tuple[int, list[tuple[int, str]]]:
    """The contacts after `after_id` up to `last` (`only_missing`: those without keys):
    (how many, key_rows of their values)."""
    from app.contacts.models import Contact

    query = values_query().where(Contact.id > after_id, Contact.id <= last)
    if only_missing:
        query = query.where(~exists().where(MatchKey.contact_id == Contact.id))
    with _reading(url) as conn:
        rows = value_rows(conn, query)
    return len(rows[1]), key_rows(rows, region)


def _groups(members: list[int], feats: dict[int, Features], split: int, cap: int):
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


def _members(conn, keys: list[str]) -> tuple[list[list[int]], list[int]]:
    """The contact ids (ascending) of each key's block, and all of them."""
    blocks: dict[str, list[int]] = {}
    for start in range(0, len(keys), 5000):
        rows = conn.execute(
            select(MatchKey.key, MatchKey.contact_id)
            .where(one_of(conn, MatchKey.key, keys[start : start + 5000]))
            .order_by(MatchKey.key, MatchKey.contact_id)
        )
        for key, cid in rows:
            blocks.setdefault(key, []).append(cid)
    return list(blocks.values()), sorted({cid for ids in blocks.values() for cid in ids})


def score_task(
    url: str, keys: list[str], region: str | None, threshold: int, split: int, cap: int
) -> tuple[list[tuple[int, int, int, list]], int, int]:
    """Score every pair within the blocks of these keys: ([(a, b, score, reasons)] at or
    above `threshold`, pairs compared, blocks split). A pair sharing several blocks is
    compared once."""
    from app.contacts.models import Contact

    with _reading(url) as conn:
        blocks, ids = _members(conn, keys)
        names, values = (), []
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            names, more = value_rows(conn, values_query().where(one_of(conn, Contact.id, chunk)))
            values.extend(more)
    feats = {v["id"]: Features(v, region) for v in _dicts((names, values))}
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int, int, list]] = []
    compared = split_blocks = 0
    for members in blocks:
        if len(members) > split:
            split_blocks += 1
        for group in _groups(members, feats, split, cap):
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
                        out.append((a, b, score, reasons))
    return out, compared, split_blocks
