"""The import job: read the file in batches, validate, upsert by email with Core
executemany, record undo information, commit each batch with its checkpoint.

Every batch is one transaction that also holds the job's checkpoint (the number
of file rows consumed and the running counts), so a worker killed at any point
resumes after the last committed batch: no row is written twice or lost.

What a batch did to each contact goes on the contact's "import" activity
(external_id "import:<import>:<contact>", event_name "import:<import>"): created,
or updated with each changed field's [before, after]; the tags and list
memberships it added. Undo reads those activities back.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import Table, bindparam, delete, func, insert, select, update

from app import audit
from app.auth.models import User
from app.companies.models import Company
from app.contacts import events, search_index
from app.contacts.custom import value_column
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.search import search_text
from app.extensions import MMAP_SIZE, db
from app.i18n import N_
from app.imports import reader
from app.imports.models import Import, ImportRowError
from app.imports.rows import CustomDef, Plan, Prepared, make_plan, prepare, reason
from app.jobs import runner
from app.lists.models import ContactList, ListMembership
from app.parallel import can_fork, in_child
from app.timeline.models import Activity
from app.timeutil import utcnow

CONTACTS: Table = Contact.__table__
SEARCH_COLUMNS = ("first_name", "middle_name", "last_name", "secondary_emails", "company_id")
COUNTS = ("created", "updated", "unchanged", "skipped", "failed")
NEW_KINDS = ("companies", "tags", "lists")


def batch_size() -> int:
    return int(current_app.config.get("IMPORT_BATCH_SIZE", 5000))


def event_name(import_id: int) -> str:
    """The event_name of an import's activities (indexed with contact_id)."""
    return f"import:{import_id}"


def external_id(import_id: int, contact_id: int) -> str:
    return f"import:{import_id}:{contact_id}"


def file_info(imp: Import) -> reader.FileInfo:
    """How the stored upload is read (what sniff() found when it was uploaded)."""
    return reader.FileInfo(
        format=imp.format,
        encoding=imp.encoding,
        delimiter=imp.delimiter,
        header_line=imp.header_line,
        headers=list(imp.headers),
        total_estimate=imp.total_estimate,
    )


def custom_defs() -> dict[str, CustomDef]:
    return {
        d.name: CustomDef(d.id, d.name, d.type, d.options)
        for d in db.session.scalars(select(CustomField))
    }


def build_plan(imp: Import) -> Plan:
    return make_plan(
        list(imp.mapping or []),
        len(imp.headers),
        custom_defs(),
        current_app.config.get("PHONE_REGION"),
    )


def json_value(value: Any) -> Any:
    return audit.jsonable(value)


@dataclass
class Caches:
    """Names resolved to ids once per run (companies, tags, lists, users)."""

    companies: dict[str, int] = field(default_factory=dict)  # casefolded name -> id
    company_names: dict[int, str | None] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    lists: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] | None = None
    # Ids of the companies, tags and lists this import created, as [first, last] runs
    # (kept in the checkpoint: undo removes the ones nothing uses any more).
    created: dict[str, list[list[int]]] = field(
        default_factory=lambda: {kind: [] for kind in NEW_KINDS}
    )

    def note_created(self, kind: str, ids: Iterable[int]) -> None:
        """Remember ids this import created (consecutive ones as one run)."""
        runs = self.created[kind]
        for i in sorted(ids):
            if runs and runs[-1][1] + 1 == i:
                runs[-1][1] = i
            else:
                runs.append([i, i])


class Batch:
    """One batch of file rows written in one transaction."""

    def __init__(self, imp: Import, plan: Plan, caches: Caches, options: dict[str, Any]):
        self.imp = imp
        self.plan = plan
        self.caches = caches
        self.options = options
        self.policy = options.get("policy", "update")
        self.now = utcnow()
        self.counts = dict.fromkeys(COUNTS, 0)
        self.errors: list[dict[str, Any]] = []
        self._row_cells: dict[int, list[str]] = {}  # original cells, for the error file
        self._later: list[tuple[Prepared, str, str]] = []  # (row, column, email it refers to)

    # -- entry point -------------------------------------------------------------------

    def run(self, rows: Iterable[Checked]) -> dict[str, int]:
        """Write one batch of checked rows (see check_rows); return its counts."""
        by_email: dict[str, Prepared] = {}
        for row_number, cells, prepared, errors in rows:
            if prepared is None:
                self.fail(row_number, cells, reason(errors))
                continue
            prepared.rows.append(row_number)
            self._row_cells[row_number] = cells
            if prepared.email in by_email:
                by_email[prepared.email].merge(prepared)
            else:
                by_email[prepared.email] = prepared
        if by_email:
            search_index.pause(db.session)
            self._write(by_email)
            search_index.resume(db.session)
        if self.errors:
            db.session.execute(insert(ImportRowError.__table__), self.errors)
        return self.counts

    def fail(self, row_number: int, cells: list[str], why: str) -> None:
        self.counts["failed"] += 1
        self.errors.append(
            {
                "import_id": self.imp.id,
                "row_number": row_number,
                "reason": why[:2000],
                "cells": cells,
            }
        )

    # -- lookups -----------------------------------------------------------------------

    def _existing(self, emails: list[str]) -> dict[str, dict[str, Any]]:
        columns = {"id", "email", "version", "search_text", *SEARCH_COLUMNS}
        for p_col in self._mapped_columns():
            columns.add(p_col)
        cols = [CONTACTS.c[name] for name in sorted(columns)]
        out = {}
        for chunk in chunks(emails, 500):
            for row in db.session.execute(select(*cols).where(CONTACTS.c.email.in_(chunk))):
                out[row.email] = dict(row._mapping)
        return out

    def _mapped_columns(self) -> set[str]:
        cols = set()
        for _, target in self.plan.columns:
            if target in ("tags", "lists", "email") or target.startswith("custom."):
                continue
            spec_col = {"company": "company_id", "owner": "owner_id"}.get(target)
            if spec_col is None:
                from app.contacts.fields import BY_NAME

                spec = BY_NAME.get(target)
                if spec is None or not spec.editable:
                    continue
                spec_col = spec.db_column
            cols.add(spec_col)
        return cols

    def _ours(self, ids: list[int]) -> dict[int, tuple[int, dict]]:
        """Contacts this import touched in an earlier batch: id -> (activity id, data)."""
        out = {}
        name = event_name(self.imp.id)
        for chunk in chunks(ids, 500):
            rows = db.session.execute(
                select(Activity.id, Activity.contact_id, Activity.data).where(
                    Activity.event_name == name, Activity.contact_id.in_(chunk)
                )
            )
            for aid, cid, data in rows:
                out[cid] = (aid, data or {})
        return out

    def _company_ids(self, names: set[str]) -> dict[str, int]:
        cache = self.caches.companies
        missing = {n.casefold(): n for n in names if n.casefold() not in cache}
        if missing:
            for chunk in chunks(list(missing), 500):
                rows = db.session.execute(
                    select(Company.id, Company.name)
                    .where(func.lower(Company.name).in_([m.lower() for m in chunk]))
                    .order_by(Company.id)
                )
                for cid, cname in rows:
                    cache.setdefault(cname.casefold(), cid)
                    self.caches.company_names[cid] = cname
            new = [n for k, n in missing.items() if k not in cache]
            if new:
                result = db.session.execute(
                    insert(Company.__table__).returning(
                        Company.__table__.c.id,
                        Company.__table__.c.name,
                        sort_by_parameter_order=True,
                    ),
                    [
                        {"name": n, "created_at": self.now, "updated_at": self.now, "version": 1}
                        for n in new
                    ],
                )
                for cid, cname in result:
                    cache[cname.casefold()] = cid
                    self.caches.company_names[cid] = cname
                    self.caches.note_created("companies", [cid])
        return {n: cache[n.casefold()] for n in names}

    def _user_ids(self) -> dict[str, int]:
        if self.caches.users is None:
            self.caches.users = {
                email.lower(): uid for uid, email in db.session.execute(select(User.id, User.email))
            }
        return self.caches.users

    def _contact_ids(self, emails: set[str]) -> dict[str, int]:
        out = {}
        lowered = {e.strip().lower() for e in emails}
        for chunk in chunks(list(lowered), 500):
            for cid, email in db.session.execute(
                select(CONTACTS.c.id, CONTACTS.c.email).where(CONTACTS.c.email.in_(chunk))
            ):
                out[email] = cid
        return out

    def _tag_ids(self, names: set[str]) -> dict[str, int]:
        cache = self.caches.tags
        keys = {n.casefold(): n for n in names}
        missing = [k for k in keys if k not in cache]
        if missing:
            for chunk in chunks(missing, 500):
                for tid, key in db.session.execute(
                    select(Tag.id, Tag.key).where(Tag.key.in_(chunk))
                ):
                    cache[key] = tid
            new = [k for k in missing if k not in cache]
            if new:
                result = db.session.execute(
                    insert(Tag.__table__).returning(
                        Tag.__table__.c.id, Tag.__table__.c.key, sort_by_parameter_order=True
                    ),
                    [{"name": keys[k], "key": k, "created_at": self.now} for k in new],
                )
                for tid, key in result:
                    cache[key] = tid
                    self.caches.note_created("tags", [tid])
        return {n: cache[n.casefold()] for n in names}

    def _list_ids(self, names: set[str]) -> dict[str, int]:
        cache = self.caches.lists
        missing = [n for n in names if n.casefold() not in cache]
        if missing:
            for lid, lname in db.session.execute(select(ContactList.id, ContactList.name)):
                cache.setdefault(lname.casefold(), lid)
            new = [n for n in dict.fromkeys(missing) if n.casefold() not in cache]
            for n in new:
                result = db.session.execute(
                    insert(ContactList.__table__).values(
                        name=n, created_by_id=self.imp.user_id, created_at=self.now
                    )
                )
                cache[n.casefold()] = result.inserted_primary_key[0]
                self.caches.note_created("lists", [cache[n.casefold()]])
        return {n: cache[n.casefold()] for n in names}

    # -- writing -----------------------------------------------------------------------

    def _resolve_refs(self, items: list[Prepared]) -> None:
        """Company names, owner and contact emails -> ids; unknown ones fail their rows.

        A contact reference to another row of the same batch is linked after the
        batch's contacts are written (see _link_later)."""
        batch_emails = {p.email for p in items}
        companies = {p.refs["company"] for p in items if "company" in p.refs}
        company_ids = self._company_ids(companies) if companies else {}
        contact_emails = {
            p.refs[k] for p in items for k in ("reports_to", "referred_by") if k in p.refs
        }
        contact_ids = self._contact_ids(contact_emails) if contact_emails else {}
        users = self._user_ids() if any("owner" in p.refs for p in items) else {}
        for p in items:
            if "company" in p.refs:
                p.values["company_id"] = company_ids[p.refs["company"]]
            if "owner" in p.refs:
                uid = users.get(p.refs["owner"].strip().lower())
                if uid is None:
                    p.refs["_error"] = f"owner: No user with email {p.refs['owner']}."
                else:
                    p.values["owner_id"] = uid
            for key in ("reports_to", "referred_by"):
                if key not in p.refs:
                    continue
                email = p.refs[key].strip().lower()
                cid = contact_ids.get(email)
                if email == p.email:
                    p.refs["_error"] = f"{key}: A contact cannot refer to itself."
                elif cid is not None:
                    p.values[f"{key}_id"] = cid
                elif email in batch_emails:  # another row of this batch: linked once written
                    self._later.append((p, f"{key}_id", email))
                else:
                    p.refs["_error"] = f"{key}: No contact with email {p.refs[key]}."

    def _company_name(self, company_id: int | None) -> str | None:
        if not company_id:
            return None
        names = self.caches.company_names
        if company_id not in names:
            names[company_id] = db.session.scalar(
                select(Company.name).where(Company.id == company_id)
            )
        return names[company_id]

    def _write(self, by_email: dict[str, Prepared]) -> None:
        items = list(by_email.values())
        self._resolve_refs(items)
        for p in [p for p in items if "_error" in p.refs]:
            for row in p.rows:
                self.fail(row, self._row_cells.get(row, []), p.refs["_error"])
            del by_email[p.email]
        existing = self._existing(list(by_email))
        ours = self._ours([e["id"] for e in existing.values()])
        creates: list[Prepared] = []
        updates: list[tuple[Prepared, dict[str, Any]]] = []
        for email, p in by_email.items():
            ex = existing.get(email)
            if ex is None:
                creates.append(p)
            elif ex["id"] in ours or self.policy == "update":
                updates.append((p, ex))
            elif self.policy == "skip":
                self.counts["skipped"] += len(p.rows)
            else:
                for row in p.rows:
                    self.fail(
                        row,
                        self._row_cells.get(row, []),
                        str(N_("A contact with this email exists already.")),
                    )
        creates = self._room_for(creates)
        created = self._create(creates)
        self._update(updates, ours)
        self._add_tags_and_lists(created)
        self._link_later()
        # The plan's field names (email, company, tags, custom.<name>, ...), as listeners
        # of contact events expect them.
        fields = [target for _, target in self.plan.columns] + ["tags", "lists"]
        events.emit("created", [cid for cid, _, _ in created], fields=fields, via="import")
        events.emit("updated", [ex["id"] for _, ex in updates], fields=fields, via="import")

    def _link_later(self) -> None:
        """Set references to contacts that this batch has just written."""
        if not self._later:
            return
        emails = {email for _, _, email in self._later} | {p.email for p, _, _ in self._later}
        ids = self._contact_ids(emails)
        params: dict[str, list[dict[str, int]]] = {}
        for p, column, email in self._later:
            if p.email in ids and email in ids:
                params.setdefault(column, []).append({"_id": ids[p.email], "_ref": ids[email]})
        for column, rows in params.items():
            db.session.execute(
                update(CONTACTS)
                .where(CONTACTS.c.id == bindparam("_id"))
                .values({column: bindparam("_ref")}),
                rows,
            )

    def _room_for(self, creates: list[Prepared]) -> list[Prepared]:
        limit = current_app.config.get("CONTACT_LIMIT")
        if limit is None or not creates:
            return creates
        count = db.session.scalar(select(func.count()).select_from(CONTACTS))
        room = max(0, limit - count)
        for p in creates[room:]:
            for row in p.rows:
                self.fail(
                    row,
                    self._row_cells.get(row, []),
                    f"The contact limit of {limit} is reached.",
                )
        return creates[:room]

    def _defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new contact's values with the option defaults where the row leaves a field empty
        (contacts that exist keep their own values)."""
        out = dict(values)
        for column, value in (self.options.get("defaults") or {}).items():
            if value not in (None, "") and column not in out:
                out[column] = value
        return out

    def _search_text(self, email: str, row: dict[str, Any]) -> str:
        return search_text(
            row.get("first_name"),
            row.get("middle_name"),
            row.get("last_name"),
            email,
            self._company_name(row.get("company_id")),
            extra=row.get("secondary_emails") or (),
        )

    def _create(self, creates: list[Prepared]) -> list[tuple[int, Prepared, dict]]:
        if not creates:
            return []
        defaults = {
            "status": "active",
            "consent_status": "unknown",
            "lead_score": 0,
            "version": 1,
            "created_at": self.now,
            "updated_at": self.now,
            "owner_id": self.imp.user_id,
        }
        columns: set[str] = set()
        prepared_rows = []
        for p in creates:
            values = self._defaults(p.values)
            if (
                values.get("consent_status") not in (None, "unknown")
                and "consent_date" not in values
            ):
                values["consent_date"] = self.now
                values.setdefault("consent_source", f"import: {self.imp.filename}"[:200])
            prepared_rows.append(values)
            columns.update(values)
        rows = []
        for p, values in zip(creates, prepared_rows, strict=True):
            row = {**defaults, **dict.fromkeys(columns), **values}
            for key in ("status", "consent_status", "lead_score", "version", "owner_id"):
                if row.get(key) is None:
                    row[key] = defaults[key]
            row["email"] = p.email
            row["search_text"] = self._search_text(p.email, row)
            rows.append(row)
        # Plain executemany (RETURNING makes SQLite insert row by row), then the ids by email.
        db.session.execute(insert(CONTACTS), rows)
        by_email = {}
        for chunk in chunks([p.email for p in creates], 500):
            rows_ = db.session.execute(
                select(CONTACTS.c.email, CONTACTS.c.id).where(CONTACTS.c.email.in_(chunk))
            )
            by_email.update((email, cid) for email, cid in rows_)
        ids = [by_email[p.email] for p in creates]
        search_index.index_new(db.session, ids)
        created = []
        custom_rows = []
        for cid, p in zip(ids, creates, strict=True):
            self.counts["created"] += 1
            self.counts["updated"] += len(p.rows) - 1  # later rows merged into it
            data = {"import": self.imp.id, "action": "created", "file": self.imp.filename}
            created.append((cid, p, data))
            for name, vals in p.custom.items():
                d = self.plan.custom[name]
                col = value_column(d.type)
                custom_rows.extend(
                    {"contact_id": cid, "field_id": d.id, **custom_row(col, v)} for v in vals
                )
        if custom_rows:
            insert_custom(custom_rows)
        return created

    def _update(
        self, updates: list[tuple[Prepared, dict[str, Any]]], ours: dict[int, tuple[int, dict]]
    ) -> None:
        if not updates:
            return
        ids = [ex["id"] for _, ex in updates]
        custom_ids = {d.id for d in self.plan.custom.values()}
        old_custom = (
            stored_custom_values(ids, custom_ids) if any(p.custom for p, _ in updates) else {}
        )
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        touched: list[tuple[int, Prepared, dict]] = []
        outcome: dict[int, tuple[str, int]] = {}
        reindexed: list[tuple[int, str]] = []
        for p, ex in updates:
            cid = ex["id"]
            values = p.values
            changes = {
                col: [json_value(ex.get(col)), json_value(new)]
                for col, new in values.items()
                if ex.get(col) != new
            }
            custom_changes = {}
            for name, vals in p.custom.items():
                d = self.plan.custom[name]
                old = old_custom.get((cid, d.id), [])
                if old != vals:
                    custom_changes[name] = (d, old, vals)
                    changes[f"custom.{name}"] = [json_value(old), json_value(vals)]
            prior = ours.get(cid)
            data: dict[str, Any]
            if prior is not None:
                aid, data = prior[0], dict(prior[1])
            else:
                aid, data = (
                    None,
                    {"import": self.imp.id, "action": "updated", "file": self.imp.filename},
                )
            if changes and data.get("action") == "updated":
                before = dict(data.get("changes") or {})
                for key, (old, new) in changes.items():
                    before[key] = [before[key][0] if key in before else old, new]
                data["changes"] = before
            column_changes = {c: values[c] for c in changes if not c.startswith("custom.")}
            if column_changes:
                merged = {**ex, **column_changes}
                new_text = self._search_text(p.email, merged)
                if new_text != ex["search_text"]:
                    column_changes["search_text"] = new_text
                    reindexed.append((cid, ex["search_text"]))
                groups.setdefault(tuple(sorted(column_changes)), []).append(
                    {"_id": cid, **column_changes}
                )
            elif custom_changes:
                groups.setdefault((), []).append({"_id": cid})
            for _name, (d, _old, vals) in custom_changes.items():
                db.session.execute(
                    delete(CustomFieldValue).where(
                        CustomFieldValue.contact_id == cid, CustomFieldValue.field_id == d.id
                    )
                )
                col = value_column(d.type)
                if vals:
                    insert_custom(
                        [{"contact_id": cid, "field_id": d.id, **custom_row(col, v)} for v in vals]
                    )
            merged = len(p.rows)
            if prior is not None and prior[1].get("action") == "created":
                self.counts["updated"] += merged  # a later row of a contact this import created
                if p.tags or p.lists:
                    touched.append((cid, p, {**data, "_aid": aid}))
                continue
            outcome[cid] = ("updated" if changes else "unchanged", merged)
            if changes or p.tags or p.lists or self._option_tags_or_lists():
                touched.append((cid, p, data if aid is None else {**data, "_aid": aid}))
        for keys, params in groups.items():
            values = {k: bindparam(k) for k in keys}
            stmt = (
                update(CONTACTS)
                .where(CONTACTS.c.id == bindparam("_id"))
                .values(**values, version=CONTACTS.c.version + 1, updated_at=self.now)
            )
            db.session.execute(stmt, params)
        search_index.reindex(db.session, reindexed)
        added = self._add_tags_and_lists(touched)
        for cid, (state, rows) in outcome.items():
            self.counts["updated" if cid in added else state] += rows

    def _option_tags_or_lists(self) -> bool:
        return bool(self.options.get("tags") or self.options.get("list_ids"))

    def _add_tags_and_lists(self, touched: list[tuple[int, Prepared, dict]]) -> set[int]:
        """Add the row's and the options' tags and lists; write each contact's activity.

        Returns the contacts that got a tag or a list they did not have.
        """
        added_to: set[int] = set()
        if not touched:
            return added_to
        option_tags = list(self.options.get("tags") or [])
        option_lists = [int(i) for i in self.options.get("list_ids") or []]
        tag_names = {t for _, p, _ in touched for t in p.tags} | set(option_tags)
        list_names = {n for _, p, _ in touched for n in p.lists}
        tag_ids = self._tag_ids(tag_names) if tag_names else {}
        list_ids = self._list_ids(list_names) if list_names else {}
        ids = [cid for cid, _, _ in touched]
        have_tags: set[tuple[int, int]] = set()
        have_lists: set[tuple[int, int]] = set()
        if any(d.get("action") != "created" or "_aid" in d for _, _, d in touched):
            for chunk in chunks(ids, 500):
                have_tags.update(
                    (cid, tid)
                    for cid, tid in db.session.execute(
                        select(ContactTag.contact_id, ContactTag.tag_id).where(
                            ContactTag.contact_id.in_(chunk)
                        )
                    )
                )
                have_lists.update(
                    (cid, lid)
                    for cid, lid in db.session.execute(
                        select(ListMembership.contact_id, ListMembership.list_id).where(
                            ListMembership.contact_id.in_(chunk)
                        )
                    )
                )
        tag_rows, member_rows, activities, activity_updates = [], [], [], []
        list_status = self.options.get("list_status") or "subscribed"
        for cid, p, data in touched:
            wanted_tags = {tag_ids[t] for t in [*p.tags, *option_tags]}
            added_tags = sorted(t for t in wanted_tags if (cid, t) not in have_tags)
            wanted_lists = {list_ids[n] for n in p.lists} | set(option_lists)
            added_lists = sorted(ls for ls in wanted_lists if (cid, ls) not in have_lists)
            tag_rows.extend({"contact_id": cid, "tag_id": t} for t in added_tags)
            member_rows.extend(
                {
                    "list_id": ls,
                    "contact_id": cid,
                    "status": list_status,
                    "added_at": self.now,
                    "updated_at": self.now,
                }
                for ls in added_lists
            )
            aid = data.pop("_aid", None)
            if added_tags or added_lists:
                added_to.add(cid)
            elif aid is None and data.get("action") == "updated" and not data.get("changes"):
                continue  # nothing changed: no activity, nothing to undo
            if added_tags:
                data["tags"] = sorted({*data.get("tags", []), *added_tags})
            if added_lists:
                data["lists"] = sorted({*data.get("lists", []), *added_lists})
            if aid is not None:
                activity_updates.append({"_aid": aid, "data": data})
            else:
                activities.append(
                    {
                        "contact_id": cid,
                        "kind": "import",
                        "subject": self.imp.filename[:500],
                        "data": data,
                        "event_name": event_name(self.imp.id),
                        "source": "import",
                        "external_id": external_id(self.imp.id, cid),
                        "user_id": self.imp.user_id,
                        "occurred_at": self.now,
                        "created_at": self.now,
                    }
                )
        if tag_rows:
            db.session.execute(insert(ContactTag.__table__), tag_rows)
        if member_rows:
            db.session.execute(insert(ListMembership.__table__), member_rows)
        if activities:
            db.session.execute(insert(Activity.__table__), activities)
        if activity_updates:
            table = Activity.__table__
            db.session.execute(
                update(table).where(table.c.id == bindparam("_aid")).values(data=bindparam("data")),
                activity_updates,
            )
        return added_to


def custom_row(column: str, value: Any) -> dict[str, Any]:
    row = dict.fromkeys(("value_text", "value_number", "value_date", "value_bool", "value_json"))
    row[column] = value
    return row


def insert_custom(rows: list[dict[str, Any]]) -> None:
    db.session.execute(insert(CustomFieldValue.__table__), rows)


def stored_custom_values(ids: list[int], field_ids: set[int]) -> dict[tuple[int, int], list[Any]]:
    out: dict[tuple[int, int], list[Any]] = {}
    if not field_ids:
        return out
    defs = {
        d.id: d
        for d in db.session.scalars(select(CustomField).where(CustomField.id.in_(field_ids)))
    }
    for chunk in chunks(ids, 500):
        rows = db.session.scalars(
            select(CustomFieldValue)
            .where(CustomFieldValue.contact_id.in_(chunk), CustomFieldValue.field_id.in_(field_ids))
            .order_by(CustomFieldValue.id)
        )
        for v in rows:
            col = value_column(defs[v.field_id].type)
            out.setdefault((v.contact_id, v.field_id), []).append(getattr(v, col))
    return out


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def batches(
    rows: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


Checked = tuple[int, list[str], Prepared | None, dict[str, str]]
PARALLEL_MIN = 20_000
IMPORT_CACHE_KB = 32_768  # SQLite page cache while importing  # from this many rows, reading and checking run on a second core


def check_rows(plan: Plan, rows: Iterable[tuple[int, list[str]]]) -> list[Checked]:
    """Validate rows (pure): (row number, cells, prepared values or None, errors)."""
    return [(n, cells, *prepare(plan, cells)) for n, cells in rows]


def checked_batches(
    path: str, info: reader.FileInfo, plan: Plan, start: int, total: int | None
) -> Iterator[list[Checked]]:
    """The file's rows after `start`, read and validated in batches; a forked child
    does this work for big files while this process writes."""

    def make() -> Iterator[list[Checked]]:
        for chunk in batches(reader.iter_rows(path, info, start=start), batch_size()):
            yield check_rows(plan, chunk)

    parallel = (
        (total or 0) - start >= PARALLEL_MIN
        and current_app.config.get("IMPORT_PARALLEL", True)
        and can_fork()
    )
    return in_child(make, "import reader") if parallel else make()


# --- the job handlers -------------------------------------------------------------------


def _started(imp: Import) -> dict[str, Any]:
    return {"row": 0, **dict.fromkeys(COUNTS, 0), "started_at": time.time()}


@runner.handler("import")
def run_import(run: runner.JobRun) -> dict[str, Any]:
    """Import the rows of an uploaded file, resuming after the last committed batch."""
    imp = db.session.get(Import, run.params["import_id"])
    if imp is None:
        raise runner.JobFailed("The import was deleted.")
    checkpoint = dict(run.checkpoint or _started(imp))
    options = dict(imp.options or {})
    info = file_info(imp)
    plan = build_plan(imp)
    caches = Caches()
    total = imp.total_estimate
    run.progress(checkpoint["row"], total, message=imp.filename)
    with _lean_connection():
        result = _import_batches(run, imp, plan, caches, options, info, checkpoint, total)
        imp = db.session.get(Import, imp.id)
        audit.record("import", "import", imp.id, {**result, "file": imp.filename}, via="import")
        db.session.commit()
        _analyze()
    return result


@contextmanager
def _lean_connection() -> Iterator[None]:
    """On SQLite, read the file through the page cache rather than mmap while importing,
    so the worker's memory stays flat however big the database grows."""
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        db.session.connection().exec_driver_sql("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        if sqlite:
            db.session.rollback()
            db.session.connection().exec_driver_sql(f"PRAGMA mmap_size={MMAP_SIZE}")
            db.session.commit()


def _import_batches(run, imp, plan, caches, options, info, checkpoint, total) -> dict[str, Any]:
    """Write every remaining batch, each committed with the checkpoint; return the counts."""
    gc.freeze()  # what exists now (the app, caches) stays out of the collector's scans
    created = checkpoint.get("new_records") or {}
    caches.created = {kind: [list(r) for r in created.get(kind, [])] for kind in NEW_KINDS}
    for chunk in checked_batches(imp.path, info, plan, checkpoint["row"], total):
        batch = Batch(imp, plan, caches, options)
        counts = batch.run(chunk)
        for key in COUNTS:
            checkpoint[key] += counts[key]
        checkpoint["new_records"] = caches.created
        checkpoint["row"] = chunk[-1][0]
        if total is not None and checkpoint["row"] > total:
            total = None
        run.progress(checkpoint["row"], total)
        run.commit(checkpoint)
    result = {key: checkpoint[key] for key in COUNTS}
    result["rows"] = checkpoint["row"]
    result["new_records"] = caches.created
    run.progress(checkpoint["row"], checkpoint["row"])
    return result


def _analyze() -> None:
    """Refresh the query planner's statistics after a large change (SQLite; PostgreSQL's
    autovacuum does it there). Sampled, so it takes a moment even on a million rows."""
    if db.engine.dialect.name == "sqlite":
        connection = db.session.connection()
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        connection.exec_driver_sql("PRAGMA optimize")
        db.session.commit()
