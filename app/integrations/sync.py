"""Syncing a connected account: the plugin fetches, Kontor writes.

A sync runs streams in order: ``contacts`` (pull_contacts), ``activities``
(pull_activities), ``push`` (push_contacts). Each page the plugin answers is applied and
committed together with the stream's new cursor, so a sync killed at any instant resumes
from the last page saved and a re-run adds nothing (links by remote id, activities by
external id). Conflicts in two-way sync resolve to the newest change, recorded on the
contact's timeline.

Also the per-contact hooks (verify_email, enrich_contact) that a plugin asks for from
contact_event, and the periodic task that starts due syncs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from huey import crontab
from sqlalchemy import and_, func, or_, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.contacts import events, service
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact
from app.extensions import db
from app.integrations import accounts, crypto, plugins
from app.integrations.http import NeedsReconnect, ProviderError, QuotaExhausted
from app.integrations.models import ConnectedAccount, ContactLink
from app.jobs import queue, runner
from app.jobs.runner import JobFailed, JobRun
from app.timeline import ingest
from app.timeline.models import ACTIVITY_KINDS
from app.timeutil import utcnow

log = logging.getLogger(__name__)

JOB_KIND = "integration_sync"
CONTACT_JOB_KIND = "integration_contacts"
STREAMS = {"contacts": "pull_contacts", "activities": "pull_activities", "push": "push_contacts"}
PUSH_BATCH = 100
MAX_PAGES = 10_000
# Fields a pulled record may set on a contact (anything else in a record is ignored).
CONTACT_FIELDS = (
    "email",
    "first_name",
    "middle_name",
    "last_name",
    "secondary_emails",
    "phone",
    "mobile_phone",
    "home_phone",
    "secondary_phones",
    "job_title",
    "department",
    "company",
    "linkedin_url",
    "twitter",
    "birthday",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postcode",
    "country",
)
VERIFICATION = {
    "deliverable": "valid",
    "undeliverable": "invalid",
    "risky": "risky",
    "unknown": "unknown",
}
AUTOMATED_LOCAL = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon")
_PENDING = "integrations_pending_jobs"


class SyncFailed(Exception):
    """A sync stopped; the account carries the reason."""


def _parse_time(value: Any) -> datetime | None:
    """A naive UTC datetime from an ISO 8601 string (or datetime); None when unreadable."""
    if not value:
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def contact_record(contact: Contact) -> dict[str, Any]:
    """A contact as plugins see it (push_contacts, enrich_contact)."""
    record: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        if name != "company":
            value = getattr(contact, name, None)
            record[name] = value.isoformat() if isinstance(value, date) else value
    record["company"] = contact.company.name if contact.company is not None else None
    record["contact_id"] = contact.id
    record["updated_at"] = contact.updated_at.isoformat() + "Z" if contact.updated_at else None
    return record


def is_automated(address: str) -> bool:
    """True for addresses no person reads (no-reply senders, bounces)."""
    local = address.split("@", 1)[0].lower()
    return any(local.startswith(p) for p in AUTOMATED_LOCAL)


# --------------------------------------------------------------------------- applying


class Applier:
    """Writes what one account's plugin answered; counts what it did."""

    def __init__(self, account: ConnectedAccount, plugin: plugins.Plugin):
        self.account = account
        self.plugin = plugin
        self.via = f"sync:{plugin.name}"
        self.settings = accounts.settings_of(plugin, account)
        self.counts: dict[str, int] = {
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "skipped": 0,
            "unlinked": 0,
            "conflicts": 0,
            "activities": 0,
            "pushed": 0,
            "push_errors": 0,
        }

    # ---- contacts
    def _link(self, remote_id: str) -> ContactLink | None:
        return db.session.scalar(
            select(ContactLink).where(
                ContactLink.account_id == self.account.id, ContactLink.remote_id == remote_id
            )
        )

    def _data(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record's contact fields; an empty value never clears a Kontor value."""
        return {
            k: record[k]
            for k in CONTACT_FIELDS
            if record.get(k) is not None and record[k] not in ("", [])
        }

    def _conflict(self, contact: Contact, winner: str, fields: dict[str, Any]) -> None:
        self.counts["conflicts"] += 1
        item = ingest.ActivityIn(
            kind="custom_event",
            occurred_at=utcnow(),
            contact_id=contact.id,
            event_name="sync_conflict",
            subject=f"{self.plugin.label}: {winner}",
            data={
                "provider": self.plugin.name,
                "winner": winner,
                "fields": sorted(fields),
            },
            source=self.plugin.name,
        )
        ingest.ingest(db.session, [item], via=self.via, source=self.plugin.name)

    def contact(self, record: Any) -> None:
        """Apply one pulled record: link by remote id, else match by email, else create.

        A linked contact takes the provider's values unless Kontor changed it since the
        last sync and that change is the newer one (then it is pushed back later). A
        contact matched by email only gets its empty fields filled.
        """
        if not isinstance(record, dict) or not record.get("remote_id"):
            self.counts["skipped"] += 1
            return
        remote_id = str(record["remote_id"])[:200]
        remote_time = _parse_time(record.get("remote_updated_at"))
        link = self._link(remote_id)
        if record.get("deleted"):
            if link is None or link.deleted_at is not None:
                self.counts["unchanged"] += 1
            else:  # a tombstone: the contact stays in Kontor but is not pushed there again
                link.deleted_at = remote_time or utcnow()
                link.remote_updated_at = remote_time or link.remote_updated_at
                self.counts["unlinked"] += 1
            return
        if (
            link is not None
            and remote_time is not None
            and link.remote_updated_at is not None
            and remote_time <= link.remote_updated_at
        ):  # read again (overlapping windows) or the echo of our own push: nothing new
            self.counts["unchanged"] += 1
            return
        data = self._data(record)
        if not data.get("email") and link is None:
            self.counts["skipped"] += 1
            return
        contact = db.session.get(Contact, link.contact_id) if link is not None else None
        for attempt in range(2):
            try:
                with db.session.begin_nested():
                    contact = self._write(contact, link, data, remote_time)
                break
            except ValidationFailed as exc:
                bad = set(exc.errors) - {"email"}
                if attempt == 0 and bad and "email" not in exc.errors:
                    # One bad field (a phone without a country, say) costs that field only.
                    data = {k: v for k, v in data.items() if k not in bad}
                    self._error(f"{remote_id}: left out {', '.join(sorted(bad))} ({exc})")
                    continue
                self.counts["skipped"] += 1
                self._error(f"{remote_id}: {exc}")
                return
            except service.DuplicateEmail as exc:
                self.counts["skipped"] += 1
                self._error(f"{remote_id}: {exc}")
                return
        if contact is None:  # Kontor's change was the newer: it is pushed, not replaced
            return
        db.session.flush()
        self._in_step(contact, remote_id, remote_time, link)

    def _in_step(
        self,
        contact: Contact,
        remote_id: str,
        remote_time: datetime | None,
        link: ContactLink | None = None,
    ) -> None:
        """Record that the contact and its record at the provider agree as of now."""
        if link is None:
            link = db.session.scalar(
                select(ContactLink).where(
                    ContactLink.account_id == self.account.id,
                    ContactLink.contact_id == contact.id,
                )
            )
            if link is None:
                link = ContactLink(account_id=self.account.id, contact_id=contact.id)
                db.session.add(link)
            link.remote_id = remote_id
        link.remote_updated_at = remote_time
        link.synced_version = contact.version
        link.synced_at = utcnow()
        link.deleted_at = None  # the record is (back) at the provider

    def _write(
        self,
        contact: Contact | None,
        link: ContactLink | None,
        data: dict[str, Any],
        remote_time: datetime | None,
    ) -> Contact | None:
        """Create, fill or update the contact; None when Kontor's newer change wins."""
        if contact is None:
            email = str(data["email"]).strip().lower()
            contact = db.session.scalar(select(Contact).where(Contact.email == email))
            if contact is None:
                contact = service.create_contact(data, via=self.via)
                self.counts["created"] += 1
                return contact
            self._fill(contact, data)
            return contact
        changed_here = link is not None and contact.version > link.synced_version
        if changed_here and (
            remote_time is None
            or (contact.updated_at is not None and contact.updated_at >= remote_time)
        ):
            self._conflict(contact, "kontor", data)
            link.remote_updated_at = remote_time or link.remote_updated_at
            return None
        changes = service.update_contact(contact, data, via=self.via)
        self.counts["updated" if changes else "unchanged"] += 1
        if changed_here:
            self._conflict(contact, "provider", data)
        return contact

    def _fill(self, contact: Contact, data: dict[str, Any]) -> None:
        current = accounts_current(contact, data)
        missing = {k: v for k, v in data.items() if k != "email" and current.get(k) in (None, "")}
        changes = service.update_contact(contact, missing, via=self.via) if missing else {}
        self.counts["updated" if changes else "unchanged"] += 1

    def _error(self, message: str) -> None:
        errors = list(self.account.errors or [])
        if len(errors) < accounts.MAX_ERRORS:
            accounts.note_error(self.account, message, status=self.account.status)

    # ---- activities
    def activities(self, records: Sequence[Any]) -> None:
        """Log each activity on the timeline of its known correspondents (creating the
        unknown ones when the account asks, never for automated mail)."""
        wanted: dict[str, str | None] = {}
        valid: list[dict[str, Any]] = []
        for record in records:
            if not isinstance(record, dict) or not record.get("external_id"):
                self.counts["skipped"] += 1
                continue
            people = [
                p for p in record.get("people") or [] if isinstance(p, dict) and p.get("email")
            ]
            record = {**record, "people": people}
            valid.append(record)
            for person in people:
                wanted.setdefault(str(person["email"]).strip().lower(), person.get("name"))
        known = self._contacts_by_email(wanted)
        if self.settings.get("create_contacts"):
            automated_mail = {
                str(p["email"]).strip().lower()
                for r in valid
                if r.get("automated")
                for p in r["people"]
            }
            for address, name in wanted.items():
                if address in known or address in automated_mail or is_automated(address):
                    continue
                first, _, last = (name or "").strip().partition(" ")
                data = {"email": address, "first_name": first or None, "last_name": last or None}
                try:
                    with db.session.begin_nested():
                        contact = service.create_contact(
                            {k: v for k, v in data.items() if v}, via=self.via
                        )
                except (ValidationFailed, service.DuplicateEmail):
                    continue
                known[address] = contact.id
                self.counts["created"] += 1
        items: list[ingest.ActivityIn] = []
        for record in valid:
            kind = str(record.get("kind") or "email_received")
            if kind not in ACTIVITY_KINDS:
                self.counts["skipped"] += 1
                self._error(f"{record['external_id']}: unknown activity kind {kind[:40]!r}")
                continue
            occurred = _parse_time(record.get("occurred_at")) or utcnow()
            for person in record["people"]:
                contact_id = known.get(str(person["email"]).strip().lower())
                if contact_id is None:
                    continue
                items.append(
                    ingest.ActivityIn(
                        kind=kind,
                        occurred_at=occurred,
                        contact_id=contact_id,
                        subject=(record.get("subject") or None) and str(record["subject"])[:500],
                        body=(record.get("body") or None) and str(record["body"])[:2000],
                        data=record.get("data") if isinstance(record.get("data"), dict) else None,
                        external_id=f"{record['external_id']}:{contact_id}"[:200],
                        source=self.plugin.name,
                    )
                )
        if items:
            result = ingest.ingest(db.session, items, via=self.via, source=self.plugin.name)
            self.counts["activities"] += result.created_count

    def _contacts_by_email(self, addresses: Iterable[str]) -> dict[str, int]:
        addresses = sorted(set(addresses))
        found: dict[str, int] = {}
        for start in range(0, len(addresses), 500):
            chunk = addresses[start : start + 500]
            for cid, email in db.session.execute(
                select(Contact.id, Contact.email).where(Contact.email.in_(chunk))
            ):
                found[email] = cid
        return found

    # ---- push
    def push_candidates(self, after: dict[str, Any] | None) -> list[Contact]:
        """The next contacts changed in Kontor since the last push, in (updated_at, id)
        order: never linked, or changed since they were last in step, and not deleted
        at the provider."""
        link = ContactLink.__table__
        query = (
            select(Contact)
            .outerjoin(
                link,
                and_(link.c.contact_id == Contact.id, link.c.account_id == self.account.id),
            )
            .where(
                Contact.archived_at.is_(None),
                or_(
                    link.c.id.is_(None),
                    and_(link.c.deleted_at.is_(None), link.c.synced_version < Contact.version),
                ),
            )
            .order_by(Contact.updated_at, Contact.id)
            .limit(PUSH_BATCH)
        )
        if after:
            when = _parse_time(after.get("updated_at"))
            query = query.where(
                or_(
                    Contact.updated_at > when,
                    and_(Contact.updated_at == when, Contact.id > int(after.get("id", 0))),
                )
            )
        return list(db.session.scalars(query))

    def pushed(self, contacts: list[Contact], answer: Any) -> None:
        by_id = {c.id: c for c in contacts}
        for item in answer or []:
            if not isinstance(item, dict) or item.get("contact_id") not in by_id:
                continue
            contact = by_id[item["contact_id"]]
            if item.get("error") or not item.get("remote_id"):
                self.counts["push_errors"] += 1
                self._error(f"{contact.email}: {item.get('error') or 'refused'}")
                continue
            remote_id = str(item["remote_id"])[:200]
            self._in_step(contact, remote_id, _parse_time(item.get("remote_updated_at")))
            self.counts["pushed"] += 1


def accounts_current(contact: Contact, data: dict[str, Any]) -> dict[str, Any]:
    """The contact's current values of the keys in `data` (company by name)."""
    values = service.current_values(contact, [k for k in data if k != "company"])
    if "company" in data:
        values["company"] = contact.company.name if contact.company is not None else None
    return values


# --------------------------------------------------------------------------- running


def _page(answer: Any, key: str) -> tuple[list[Any], Any, bool]:
    if not isinstance(answer, dict) or not isinstance(answer.get(key, []), list):
        raise plugins.PluginError(f"the plugin answered a malformed page (no {key!r} list)")
    return answer.get(key) or [], answer.get("cursor"), bool(answer.get("more"))


def _commit(run: JobRun | None, account: ConnectedAccount, done: int) -> None:
    if run is not None:
        run.progress(done)
        run.commit({"cursor": account.sync_cursor})
    else:
        db.session.commit()


def _set_cursor(account: ConnectedAccount, stream: str, cursor: Any) -> None:
    account.sync_cursor = {**(account.sync_cursor or {}), stream: cursor}


def sync_account(
    account_id: int,
    streams: Sequence[str] | None = None,
    *,
    run: JobRun | None = None,
    http_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the account's sync now (the job handler calls this; so can tests and the
    CLI). Answers what it did; raises SyncFailed with the account marked."""
    account = db.session.get(ConnectedAccount, account_id)
    if account is None:
        raise SyncFailed(f"no connected account {account_id}")
    plugin = plugins.get(account.provider)
    if plugin is None:
        raise SyncFailed(f"the {account.provider} plugin is not loaded")
    wanted = [s for s in (streams or STREAMS) if s in STREAMS]
    wanted = [s for s in wanted if plugin.implements(STREAMS[s])]
    applier = Applier(account, plugin)
    try:
        http = accounts.http_for(account, plugin, **(http_options or {}))
    except crypto.CannotDecrypt as exc:
        accounts.note_error(account, f"{exc}; connect the account again.", status="needs_reconnect")
        db.session.commit()
        raise SyncFailed(account.last_error) from None
    settings = applier.settings
    done = 0
    try:
        if plugin.implements("identify_account"):
            who = plugins.call(plugin, "identify_account", http=http, settings=settings) or {}
            if isinstance(who, dict):
                account.label = str(who.get("label") or account.label or "")[:320] or None
                account.details = {str(k): str(v) for k, v in (who.get("details") or {}).items()}
        for stream in wanted:
            hook = STREAMS[stream]
            for _ in range(MAX_PAGES):
                cursor = (account.sync_cursor or {}).get(stream)
                if stream == "push":
                    batch = applier.push_candidates(cursor)
                    if not batch:
                        break
                    answer = plugins.call(
                        plugin,
                        hook,
                        http=http,
                        contacts=[
                            {**contact_record(c), "remote_id": _remote_id(account, c)}
                            for c in batch
                        ],
                        settings=settings,
                        account=accounts.plain(account),
                    )
                    applier.pushed(batch, answer if isinstance(answer, list) else [])
                    last = batch[-1]
                    _set_cursor(
                        account, stream, {"updated_at": last.updated_at.isoformat(), "id": last.id}
                    )
                    done += len(batch)
                    _commit(run, account, done)
                    continue
                answer = plugins.call(
                    plugin,
                    hook,
                    http=http,
                    cursor=cursor,
                    settings=settings,
                    account=accounts.plain(account),
                )
                key = "contacts" if stream == "contacts" else "activities"
                records, next_cursor, more = _page(answer, key)
                if stream == "contacts":
                    for record in records:
                        applier.contact(record)
                else:
                    applier.activities(records)
                done += len(records)
                _set_cursor(account, stream, next_cursor)
                _commit(run, account, done)
                if not more:
                    break
    except NeedsReconnect as exc:
        db.session.rollback()
        accounts.note_error(account, _reconnect_message(exc), status="needs_reconnect")
        account.next_sync_at = None
        db.session.commit()
        raise SyncFailed(account.last_error) from None
    except ProviderError as exc:
        db.session.rollback()
        accounts.note_error(account, _provider_message(exc))
        # A used-up quota is not over in 5 minutes: the usual schedule.
        quota = isinstance(exc, QuotaExhausted)
        accounts.schedule_next(plugin, account, after=exc.retry_after or (None if quota else 300))
        db.session.commit()
        raise SyncFailed(account.last_error) from None
    except plugins.PluginError as exc:
        db.session.rollback()
        accounts.note_error(account, str(exc))
        accounts.schedule_next(plugin, account)
        db.session.commit()
        raise SyncFailed(account.last_error) from None
    except Exception as exc:
        from app.jobs.runner import JobCancelled

        if isinstance(exc, JobCancelled):
            raise
        db.session.rollback()
        log.exception("sync of account %s failed", account_id)
        accounts.note_error(account, f"the {plugin.name} plugin failed: {exc}")
        accounts.schedule_next(plugin, account)
        db.session.commit()
        raise SyncFailed(account.last_error) from None
    account.status = "connected"
    account.last_error = None
    account.last_sync_at = utcnow()
    accounts.schedule_next(plugin, account)
    db.session.commit()
    return {"account": account.id, "streams": wanted, "requests": http.requests, **applier.counts}


def _remote_id(account: ConnectedAccount, contact: Contact) -> str | None:
    return db.session.scalar(
        select(ContactLink.remote_id).where(
            ContactLink.account_id == account.id, ContactLink.contact_id == contact.id
        )
    )


def _reconnect_message(exc: ProviderError) -> str:
    return f"The provider refused the account's credentials; connect it again. ({exc.message})"


def _provider_message(exc: ProviderError) -> str:
    if isinstance(exc, QuotaExhausted):
        return (
            "The account's usage quota at the provider is used up; requests work again once "
            f"it renews or the plan grows. ({exc.message})"
        )
    if exc.status == 429:
        return f"The provider asked us to slow down (429); the sync will retry. ({exc.message})"
    if exc.status:
        return f"The provider answered {exc.status}: {exc.message}"
    return exc.message


def start_sync(
    account: ConnectedAccount, streams: Sequence[str] | None = None, *, actor=None
) -> runner.Job:
    """Queue a sync job for the account (or answer the one already queued); it starts
    once the caller commits."""
    existing = runner.unfinished(JOB_KIND, account_id=account.id)
    if existing is not None:
        return existing
    job = runner.create(
        JOB_KIND,
        {"account_id": account.id, "streams": list(streams) if streams else None},
        title=f"Sync {account.provider}: {account.label or account.id}",
        actor=actor,
    )
    _after_commit(job.id)
    return job


@runner.handler(JOB_KIND)
def run_sync(run: JobRun) -> dict[str, Any]:
    """The sync job: resumes from the cursors saved with each page."""
    try:
        return sync_account(int(run.params["account_id"]), run.params.get("streams"), run=run)
    except SyncFailed as exc:
        raise JobFailed(str(exc)) from None


# --------------------------------------------------------------------------- per-contact hooks


def run_contact_hook(
    account: ConnectedAccount,
    hook: str,
    contact_ids: Sequence[int],
    run: JobRun | None = None,
) -> dict:
    """Run verify_email or enrich_contact for these contacts with the account's plugin.

    Each contact's answer is committed with the job's checkpoint, so a job killed halfway
    does not ask the provider (and spend its credits) twice for a contact."""
    plugin = plugins.get(account.provider)
    if plugin is None or not plugin.implements(hook):
        return {"done": 0}
    http = accounts.http_for(account, plugin)
    settings = accounts.settings_of(plugin, account)
    via = f"sync:{plugin.name}"
    start = int((run.checkpoint or {}).get("next", 0)) if run is not None else 0
    done = start
    for index in range(start, len(contact_ids)):
        contact = db.session.get(Contact, contact_ids[index])
        if contact is None:
            continue
        if hook == "verify_email":
            answer = plugins.call(plugin, hook, http=http, email=contact.email, settings=settings)
            if isinstance(answer, dict):
                apply_verification(contact, answer)
        elif hook == "enrich_contact":
            answer = plugins.call(
                plugin, hook, http=http, contact=contact_record(contact), settings=settings
            )
            if isinstance(answer, dict):
                data = {k: v for k, v in answer.items() if k in CONTACT_FIELDS and v}
                current = accounts_current(contact, data)
                missing = {k: v for k, v in data.items() if current.get(k) in (None, "")}
                if missing:
                    try:
                        with db.session.begin_nested():
                            service.update_contact(contact, missing, via=via)
                    except (ValidationFailed, service.DuplicateEmail):
                        pass
        done += 1
        if run is not None:
            run.progress(done, len(contact_ids))
            run.commit({"next": index + 1})
        else:
            db.session.commit()
    return {"done": done}


def apply_verification(contact: Contact, answer: dict[str, Any]) -> None:
    """Store a verify_email answer on the contact; undeliverable raises bounce risk."""
    status = VERIFICATION.get(str(answer.get("status")))
    if status is None:
        return
    contact.email_verification = status
    score = answer.get("score")
    contact.email_score = int(score) if isinstance(score, int | float) else None
    contact.email_verified_at = utcnow()
    contact.bounce_risk = {"invalid": "high", "risky": "medium", "valid": "low"}.get(status)


@runner.handler(CONTACT_JOB_KIND)
def run_contact_job(run: JobRun) -> dict[str, Any]:
    """Per-contact hooks asked for by a plugin's contact_event."""
    account = db.session.get(ConnectedAccount, int(run.params["account_id"]))
    if account is None:
        return {"done": 0}
    try:
        ids = run.params.get("contact_ids") or []
        return run_contact_hook(account, run.params["hook"], ids, run)
    except NeedsReconnect as exc:
        db.session.rollback()
        accounts.note_error(account, _reconnect_message(exc), status="needs_reconnect")
        db.session.commit()
        raise JobFailed(account.last_error) from None
    except ProviderError as exc:
        db.session.rollback()
        accounts.note_error(account, _provider_message(exc))
        db.session.commit()
        raise JobFailed(account.last_error) from None


# --------------------------------------------------------------------------- events


def _after_commit(job_id: int) -> None:
    db.session.info.setdefault(_PENDING, []).append(job_id)


@sa_event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for job_id in session.info.pop(_PENDING, None) or []:
        queue.enqueue(job_id)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def _tell(plugin: plugins.Plugin, payload: dict[str, Any], settings: dict[str, Any]) -> Any:
    """Call the plugin's contact_event; its bugs are logged, never raised."""
    try:
        return plugins.call(plugin, "contact_event", event=dict(payload), settings=settings)
    except Exception:  # a plugin's bug must not stop a contact from being saved
        log.exception("contact_event of plugin %s failed", plugin.name)
        return None


@events.listener("integrations")
def tell_plugins(event: events.ContactEvent) -> None:
    """Pass contact events to plugins with connected accounts; queue what they ask for."""
    if event.kind == "activities_changed":
        return
    listening = {n: p for n, p in plugins.plugins().items() if p.implements("contact_event")}
    if not listening:
        return
    ids = None if not isinstance(event.ids, list) else list(event.ids)
    payload = {
        "kind": event.kind,
        "contact_ids": ids,
        "fields": sorted(event.fields) if event.fields is not None else None,
        "via": event.via,
        **{k: v for k, v in event.data.items() if k in ("survivor", "merged")},
    }
    for plugin in listening.values():
        if plugin.provider is None:  # listens only: nothing to queue for it
            _tell(plugin, payload, {})
    listening = {n: p for n, p in listening.items() if p.provider is not None}
    if not listening:
        return
    rows = db.session.scalars(
        select(ConnectedAccount).where(
            ConnectedAccount.provider.in_(sorted(listening)),
            ConnectedAccount.status == "connected",
        )
    ).all()
    if not rows:
        return
    for account in rows:
        plugin = listening[account.provider]
        wanted = _tell(plugin, payload, accounts.settings_of(plugin, account))
        for hook in wanted if isinstance(wanted, list) else []:
            if hook == "push_contacts" and plugin.implements("push_contacts"):
                start_sync(account, ["push"])  # or the sync already queued picks it up
            elif hook in ("verify_email", "enrich_contact") and ids and plugin.implements(hook):
                job = runner.create(
                    CONTACT_JOB_KIND,
                    {"account_id": account.id, "hook": hook, "contact_ids": ids[:10_000]},
                    title=f"{plugin.label}: {hook.replace('_', ' ')}",
                )
                _after_commit(job.id)


# --------------------------------------------------------------------------- schedule


@queue.periodic(crontab(minute="*"), "integrations_due")
def start_due_syncs() -> int:
    """Queue a sync for every connected account whose next sync is due."""
    due = db.session.scalars(
        select(ConnectedAccount).where(
            ConnectedAccount.status.in_(("connected", "error")),
            ConnectedAccount.next_sync_at.is_not(None),
            ConnectedAccount.next_sync_at <= utcnow(),
        )
    ).all()
    started = 0
    for account in due:
        if plugins.get(account.provider) is None:
            continue
        start_sync(account)
        account.next_sync_at = None  # set again when the sync ends
        started += 1
    db.session.commit()
    return started


def counts_by_provider() -> dict[str, int]:
    """Connected accounts per provider (the integrations page, `kontor plugins list`)."""
    rows = db.session.execute(
        select(ConnectedAccount.provider, func.count()).group_by(ConnectedAccount.provider)
    )
    return {p: n for p, n in rows}
