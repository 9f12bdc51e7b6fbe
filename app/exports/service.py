"""Exports: which contacts (a scope), read in keyset chunks with their related data
loaded in a fixed number of queries per chunk, and written by a format's writer.

A scope is plain data (it travels in a job's params): every contact ("all", archived
ones left out), the contact list's current filter ("filter", its URL query), ticked
rows ("selection") or a list's members ("list"). Each becomes contact-list URL
arguments, so the contact list's own parser and `id_select` decide what matches,
as they do for the bulk actions.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.sql import Select

from app import audit
from app.contacts.bulk import Target
from app.contacts.models import Contact
from app.contacts.query import ContactQuery, CustomFieldInfo, count, id_select, parse_args
from app.contacts.related import Related, contact_to_dict, custom_field_infos, load_related
from app.exports.writers import FORMATS, make_writer  # noqa: F401  (re-exported)
from app.extensions import db
from app.lists.models import ContactList, ListMembership
from app.timeutil import utcnow

CHUNK = 1000


@dataclass(frozen=True)
class Scope:
    """Which contacts an export holds (JSON-able: see as_params / from_params)."""

    kind: str = "all"  # all, filter, selection, list
    query: str = ""  # the contact list's URL query, for "filter"
    ids: tuple[int, ...] = ()  # for "selection"
    list_id: int | None = None  # for "list"
    me_id: int | None = None  # who "owner=me" in a filter means

    def args(self) -> dict[str, list[str]]:
        """The contact-list URL arguments that select this scope's contacts."""
        if self.kind == "filter":
            return parse_qs(self.query, keep_blank_values=False)
        if self.kind == "selection":
            # No ids must select nothing, not (as no filter would) everything.
            return {"id": [str(i) for i in self.ids] or ["0"], "archived": ["include"]}
        if self.kind == "list":
            return {"list": [str(self.list_id)], "archived": ["include"]}
        return {}

    def as_params(self) -> dict[str, Any]:
        return {
            "scope": self.kind,
            "query": self.query,
            "ids": list(self.ids),
            "list_id": self.list_id,
            "me_id": self.me_id,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Scope:
        return cls(
            kind=params.get("scope", "all"),
            query=params.get("query") or "",
            ids=tuple(int(i) for i in params.get("ids") or ()),
            list_id=params.get("list_id"),
            me_id=params.get("me_id"),
        )


def resolve(
    scope: Scope, infos: Sequence[CustomFieldInfo] | None = None
) -> tuple[ContactQuery, Select, list[str]]:
    """The scope's contact query, the SELECT of its contact ids, and what the parser ignored."""
    if infos is None:
        infos = custom_field_infos(db.session)
    cq, notices = parse_args(scope.args(), infos, me_id=scope.me_id)
    return cq, id_select(db.session, cq), notices


def count_scope(cq: ContactQuery) -> int:
    """How many contacts an export of this query holds."""
    return count(db.session, cq)


def _id_chunks(target: Target, after_id: int) -> Iterator[list[int]]:
    """Contact ids of the target in ascending chunks of CHUNK, after `after_id`."""
    last = after_id
    if not isinstance(target, Select):
        wanted = sorted({int(i) for i in target})
    while True:
        if isinstance(target, Select):
            stmt = target.where(Contact.id > last).order_by(Contact.id).limit(CHUNK)
            ids = list(db.session.scalars(stmt))
        else:
            ids = [i for i in wanted if i > last][:CHUNK]
        if not ids:
            return
        yield ids
        last = ids[-1]


def _list_names(ids: list[int]) -> dict[int, list[str]]:
    """The names of the lists each contact is on (one query)."""
    out: dict[int, list[str]] = defaultdict(list)
    rows = db.session.execute(
        select(ListMembership.contact_id, ContactList.name)
        .join(ContactList, ContactList.id == ListMembership.list_id)
        .where(ListMembership.contact_id.in_(ids))
        .order_by(ContactList.name)
    )
    for contact_id, name in rows:
        out[contact_id].append(name)
    return out


def to_record(contact: Contact, rel: Related, lists: dict[int, list[str]]) -> dict[str, Any]:
    """The API form of a contact plus what a CSV or vCard also names: the emails of the
    contacts it refers to and its list names."""
    record = contact_to_dict(contact, rel)
    for name, ref_id in (
        ("reports_to", contact.reports_to_id),
        ("referred_by", contact.referred_by_id),
    ):
        other = rel.contacts.get(ref_id) if ref_id else None
        record[name] = other.email if other else None
    record["lists"] = lists.get(contact.id, [])
    return record


def record_chunks(
    target: Target,
    *,
    after_id: int = 0,
    infos: Sequence[CustomFieldInfo] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """(records, last contact id) per chunk of the target, in id order, after `after_id`.

    Each chunk costs a constant number of queries (ids, contacts, related rows, lists);
    nothing of a chunk is kept once the next one is read.
    """
    if infos is None:
        infos = custom_field_infos(db.session)
    infos = list(infos)
    for ids in _id_chunks(target, after_id):
        contacts = list(
            db.session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id))
        )
        rel = load_related(db.session, contacts, custom_fields=infos, with_refs=True)
        lists = _list_names(ids)
        records = [to_record(c, rel, lists) for c in contacts]
        del contacts, rel
        yield records, ids[-1]


def custom_columns(infos: Sequence[CustomFieldInfo]) -> list[tuple[str, str]]:
    return [(i.name, i.type) for i in infos]


def export_rows(target: Target, fmt: str, *, counter: list[int] | None = None) -> Iterator[str]:
    """The whole export as text chunks (header, one chunk per CHUNK contacts, footer).

    `counter`, when given, holds the number of contacts written so far in its first item.
    """
    infos = custom_field_infos(db.session)
    writer = make_writer(fmt, custom_columns(infos))
    yield writer.begin()
    written = 0
    for records, _last in record_chunks(target, infos=infos):
        yield "".join(writer.item(r, first=written + i == 0) for i, r in enumerate(records))
        written += len(records)
        if counter is not None:
            counter[0] = written
    yield writer.end()


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40]


def download_name(fmt: str, list_name: str | None = None, day: date | None = None) -> str:
    """A file name such as contacts-2026-11-23.csv (contacts-newsletter-2026-11-23.vcf)."""
    day = day or utcnow().date()
    extension = make_writer(fmt, ()).extension
    slug = _slug(list_name) if list_name else ""
    return f"contacts-{slug + '-' if slug else ''}{day.isoformat()}.{extension}"


def mimetype(fmt: str) -> str:
    return make_writer(fmt, ()).mimetype


def record_audit(fmt: str, scope: Scope, n: int, *, actor: Any = None, via: str = "web") -> None:
    """The audit entry every export leaves (personal data leaving Kontor is traceable)."""
    changes: dict[str, Any] = {"format": fmt, "scope": scope.kind, "count": n}
    if scope.kind == "list":
        changes["list_id"] = scope.list_id
    audit.record("export", "contact", None, changes, actor=actor, via=via)
