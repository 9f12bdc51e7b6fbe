"""Relationships between people: a company's people with their roles in a who-reports-
to-whom tree, and a contact's direct reports and the people they referred.

`reports_tree` is pure; the loaders each read what they need in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.contacts.models import Contact

MAX_PEOPLE = 500  # shown in a company's tree; the contact list has them all
MAX_RELATED = 200


def reports_tree(people: Sequence[tuple[int, int | None]]) -> list[tuple[int, int]]:
    """Order people as an indented tree: [(id, depth)], each manager before its reports.

    `people` is [(id, reports_to_id)] in the order siblings should keep. People whose
    manager is not among them are at the top. A cycle (A reports to B, B to A) cannot
    hang it: the first person of a cycle not reached from the top starts a new top.
    """
    ids = [pid for pid, _ in people]
    known = set(ids)
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for pid, manager in people:
        if manager is not None and manager in known and manager != pid:
            children.setdefault(manager, []).append(pid)
        else:
            roots.append(pid)
    out: list[tuple[int, int]] = []
    seen: set[int] = set()

    def walk(root: int) -> None:
        stack = [(root, 0)]
        while stack:
            pid, depth = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            out.append((pid, depth))
            for child in reversed(children.get(pid, [])):
                if child not in seen:
                    stack.append((child, depth + 1))

    for root in roots:
        walk(root)
    for pid in ids:  # only people in a cycle (or below one) are left
        if pid not in seen:
            walk(pid)
    return out


@dataclass
class Person:
    """A row of a company's people: who, their role, and where they sit in the tree."""

    id: int
    name: str
    email: str
    job_title: str | None
    role: str | None
    status: str
    reports_to_id: int | None
    depth: int = 0


def company_people(session: Session, company_id: int) -> tuple[list[Person], int]:
    """A company's (unarchived) people as a reports-to tree, and how many it has.

    One query for the people (at most MAX_PEOPLE, by name), one for the count.
    """
    rows = session.execute(
        select(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.job_title,
            Contact.role,
            Contact.status,
            Contact.reports_to_id,
        )
        .where(Contact.company_id == company_id, Contact.archived_at.is_(None))
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
        .limit(MAX_PEOPLE)
    ).all()
    total = len(rows)
    if total == MAX_PEOPLE:
        total = (
            session.scalar(
                select(func.count()).where(
                    Contact.company_id == company_id, Contact.archived_at.is_(None)
                )
            )
            or 0
        )
    by_id = {
        r.id: Person(
            r.id,
            " ".join(p for p in (r.first_name, r.last_name) if p) or r.email,
            r.email,
            r.job_title,
            r.role,
            r.status,
            r.reports_to_id,
        )
        for r in rows
    }
    tree = reports_tree([(r.id, r.reports_to_id) for r in rows])
    people = []
    for pid, depth in tree:
        person = by_id[pid]
        person.depth = depth
        people.append(person)
    return people, total


@dataclass
class Relations:
    """Who reports to a contact and whom they referred, as (id, name, role) rows."""

    reports: list[tuple[int, str, str | None]]
    referred: list[tuple[int, str, str | None]]

    def __bool__(self) -> bool:
        return bool(self.reports or self.referred)


def contact_relations(session: Session, contact_id: int) -> Relations:
    """A contact's direct reports and the contacts they referred (indexed, one query)."""
    rows = session.execute(
        select(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.role,
            Contact.reports_to_id,
            Contact.referred_by_id,
        )
        .where((Contact.reports_to_id == contact_id) | (Contact.referred_by_id == contact_id))
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
        .limit(2 * MAX_RELATED)
    ).all()
    out = Relations([], [])
    for r in rows:
        label = " ".join(p for p in (r.first_name, r.last_name) if p) or r.email
        if r.reports_to_id == contact_id and len(out.reports) < MAX_RELATED:
            out.reports.append((r.id, label, r.role))
        if r.referred_by_id == contact_id and len(out.referred) < MAX_RELATED:
            out.referred.append((r.id, label, r.role))
    return out
