"""Review-queue queries: open pairs by score, clusters, the last scan, bulk-merge
previews (clusters of pairs above a threshold) and recent merges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.companies.models import Company
from app.contacts.models import Contact
from app.dedupe.models import DuplicatePair, Merge
from app.jobs.models import Job

PAGE_SIZE = 25
SAMPLE_SIZE = 20


@dataclass
class PairRow:
    """An open pair with what the queue shows of both contacts."""

    pair: DuplicatePair
    a: dict[str, Any]
    b: dict[str, Any]
    reasons: list[str]
    cluster_size: int = 0


@dataclass
class Page:
    rows: list[PairRow]
    total: int
    page: int
    pages: int


@dataclass
class Preview:
    """What "merge all pairs scoring at least N" would do."""

    min_score: int
    pairs: int
    clusters: int
    merges: int  # contacts merged away
    max_pair_id: int | None
    sample: list[PairRow] = field(default_factory=list)


def describe(reasons: list[dict[str, Any]] | None) -> list[str]:
    """Human reasons of a pair (translated by the matching side's describe_all)."""
    from app.dedupe.reasons import describe_all

    return list(describe_all(reasons or []))


def summaries(session: Session, ids: set[int] | list[int]) -> dict[int, dict[str, Any]]:
    """A few fields of each contact (name, email, company) for lists of pairs."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(Contact, Company.name)
        .outerjoin(Company, Company.id == Contact.company_id)
        .where(Contact.id.in_(ids))
    )
    for contact, company in rows:
        out[contact.id] = {
            "id": contact.id,
            "name": contact.full_name,
            "email": contact.email,
            "company": company,
            "job_title": contact.job_title,
            "phone": contact.phone or contact.mobile_phone or contact.home_phone,
            "version": contact.version,
            "updated_at": contact.updated_at,
            "archived": contact.archived_at is not None,
        }
    return out


def _open(min_score: int | None = None, cluster: int | None = None) -> list:
    where = [DuplicatePair.status == "open"]
    if min_score is not None:
        where.append(DuplicatePair.score >= min_score)
    if cluster is not None:
        where.append(DuplicatePair.cluster_id == cluster)
    return where


def cluster_sizes(session: Session, cluster_ids: set[int]) -> dict[int, int]:
    """How many contacts the open pairs of each cluster join."""
    cluster_ids = {c for c in cluster_ids if c is not None}
    if not cluster_ids:
        return {}
    members: dict[int, set[int]] = {}
    rows = session.execute(
        select(
            DuplicatePair.cluster_id, DuplicatePair.contact_a_id, DuplicatePair.contact_b_id
        ).where(DuplicatePair.status == "open", DuplicatePair.cluster_id.in_(cluster_ids))
    )
    for cluster, a, b in rows:
        members.setdefault(cluster, set()).update((a, b))
    return {c: len(m) for c, m in members.items()}


def _rows(session: Session, pairs: list[DuplicatePair]) -> list[PairRow]:
    ids = {p.contact_a_id for p in pairs} | {p.contact_b_id for p in pairs}
    people = summaries(session, ids)
    sizes = cluster_sizes(session, {p.cluster_id for p in pairs})
    return [
        PairRow(
            p,
            people.get(p.contact_a_id, {"id": p.contact_a_id}),
            people.get(p.contact_b_id, {"id": p.contact_b_id}),
            describe(p.reasons),
            sizes.get(p.cluster_id, 0) if p.cluster_id is not None else 0,
        )
        for p in pairs
    ]


def open_pairs(
    session: Session,
    *,
    page: int = 1,
    per_page: int = PAGE_SIZE,
    min_score: int | None = None,
    cluster: int | None = None,
) -> Page:
    """One page of open pairs, highest score first."""
    where = _open(min_score, cluster)
    total = session.scalar(select(func.count()).select_from(DuplicatePair).where(*where)) or 0
    pages = max(1, (total + per_page - 1) // per_page)
    page = min(max(1, page), pages)
    pairs = list(
        session.scalars(
            select(DuplicatePair)
            .where(*where)
            .order_by(DuplicatePair.score.desc(), DuplicatePair.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return Page(_rows(session, pairs), total, page, pages)


def pair_row(session: Session, pair: DuplicatePair) -> PairRow:
    return _rows(session, [pair])[0]


def pair_between(session: Session, a: int, b: int) -> DuplicatePair | None:
    lo, hi = min(a, b), max(a, b)
    return session.scalar(
        select(DuplicatePair).where(
            DuplicatePair.contact_a_id == lo, DuplicatePair.contact_b_id == hi
        )
    )


def last_scan(session: Session) -> Job | None:
    """The most recent duplicate scan job."""
    return session.scalar(
        select(Job).where(Job.kind == "dedupe_scan").order_by(Job.id.desc()).limit(1)
    )


def components(session: Session, min_score: int, max_pair_id: int | None = None) -> list[list[int]]:
    """Clusters of contacts joined by open pairs scoring at least `min_score`
    (union-find over the pairs; each cluster sorted, clusters by their first id)."""
    where = _open(min_score)
    if max_pair_id is not None:
        where.append(DuplicatePair.id <= max_pair_id)
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows = session.execute(
        select(DuplicatePair.contact_a_id, DuplicatePair.contact_b_id).where(*where)
    )
    for a, b in rows:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def preview(session: Session, min_score: int) -> Preview:
    """Counts and the first pairs of a bulk merge at `min_score`."""
    where = _open(min_score)
    count, max_id = session.execute(
        select(func.count(), func.max(DuplicatePair.id)).where(*where)
    ).one()
    clusters = components(session, min_score, max_id)
    sample = list(
        session.scalars(
            select(DuplicatePair)
            .where(*where)
            .order_by(DuplicatePair.score.desc(), DuplicatePair.id)
            .limit(SAMPLE_SIZE)
        )
    )
    return Preview(
        min_score=min_score,
        pairs=count or 0,
        clusters=len(clusters),
        merges=sum(len(c) - 1 for c in clusters),
        max_pair_id=max_id,
        sample=_rows(session, sample),
    )


def recent_merges(
    session: Session, *, page: int = 1, per_page: int = PAGE_SIZE, contact_id: int | None = None
) -> tuple[list[Merge], int, int]:
    """Merges, newest first: (rows, page, pages)."""
    where = []
    if contact_id is not None:
        where.append(or_(Merge.survivor_id == contact_id, Merge.merged_contact_id == contact_id))
    total = session.scalar(select(func.count()).select_from(Merge).where(*where)) or 0
    pages = max(1, (total + per_page - 1) // per_page)
    page = min(max(1, page), pages)
    rows = list(
        session.scalars(
            select(Merge)
            .where(*where)
            .order_by(Merge.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return rows, page, pages
