"""Demo data from `seed()`: realistic, consistent with search and the timeline, appendable,
and loaded through the bulk path (indexes and FTS triggers back afterwards)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import func, select, text

from app import seed as seed_module
from app.auth.models import User
from app.companies.models import Company
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.query import ContactQuery, count
from app.contacts.search import contact_search_text, fold
from app.extensions import db
from app.seed import seed
from app.timeline.models import ACTIVITY_KINDS, CONTACTING_KINDS, Activity

NOW = datetime(2026, 3, 1)


def _sqlite(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def test_seed_reports_what_it_added(app, users):
    with app.app_context():
        counts = seed(contacts=400, activities=600, seed=3, now=NOW)
        assert counts["contacts"] == 400
        assert counts["companies"] == 20
        assert counts["activities"] == 600
        assert counts["seconds"] >= 0
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 400
        assert db.session.scalar(select(func.count()).select_from(Company)) == 20
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 600


def test_people_look_real(app, users):
    with app.app_context():
        seed(contacts=600, seed=5, now=NOW)
        contacts = db.session.scalars(select(Contact)).all()
        names = [f"{c.first_name} {c.last_name}" for c in contacts]
        assert sum(fold(n) != n.casefold() for n in names) > 60  # accents: Zoé, Müller, Łukasz
        countries = Counter(c.country for c in contacts if c.country)
        assert len(countries) >= 8 and {"FR", "DE", "ES", "PL", "SE", "GB"} <= set(countries)
        assert all(len(code) == 2 and code.isupper() for code in countries)
        assert sum(1 for c in contacts if c.city) > 300
        assert sum(1 for c in contacts if c.job_title) > 300
        assert sum(1 for c in contacts if c.department) > 300
        statuses = Counter(c.status for c in contacts)
        assert statuses.most_common(1)[0][0] == "active" and len(statuses) >= 4
        assert len({c.lifecycle for c in contacts}) >= 6
        assert len({c.consent_status for c in contacts}) == 4
        assert len({c.source for c in contacts}) >= 8
        assert all(0 <= c.lead_score <= 100 for c in contacts)
        created = sorted(c.created_at for c in contacts)
        assert created[-1] - created[0] > timedelta(days=2 * 365)
        assert created[-1] < NOW
        assert sum(1 for c in contacts if c.last_activity_at) > 200
        phones = [p for c in contacts for p in (c.phone, c.mobile_phone) if p]
        assert len(phones) > 300
        for number in phones:
            assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number


def test_emails_are_unique_lower_case_and_come_from_names_and_companies(app, users):
    with app.app_context():
        seed(contacts=800, seed=2, now=NOW)
        rows = db.session.execute(
            select(Contact.email, Contact.first_name, Contact.last_name, Company.domain).outerjoin(
                Company, Company.id == Contact.company_id
            )
        ).all()
        emails = [r.email for r in rows]
        assert len(set(emails)) == len(emails) == 800
        assert all(e == e.lower() and re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+", e) for e in emails)
        at_company = [r for r in rows if r.domain]
        assert len(at_company) > 400
        assert all(r.email.endswith("@" + r.domain) for r in at_company)
        derived = sum(
            1
            for r in rows
            if fold(r.last_name).replace(" ", "-")[:3] in r.email
            or fold(r.first_name)[:3] in r.email
        )
        assert derived > 0.95 * len(rows)
        domains = [d for (d,) in db.session.execute(select(Company.domain))]
        assert len(set(domains)) == len(domains)


def test_search_finds_seeded_contacts_by_any_name_email_or_company(app, users, api):
    with app.app_context():
        seed(contacts=500, activities=100, seed=11, now=NOW)
        contacts = db.session.scalars(select(Contact).order_by(Contact.id)).all()
        companies = {c.id: c.name for c in db.session.scalars(select(Company))}
        for contact in contacts:
            expected = contact_search_text(contact, companies.get(contact.company_id))
            assert contact.search_text == expected, contact.email
        accented = next(c for c in contacts if fold(c.last_name) != c.last_name.casefold())
        with_company = next(c for c in contacts if c.company_id)
        probes = [
            (accented.last_name, accented.id),
            (fold(accented.last_name), accented.id),
            (accented.email, accented.id),
            (f"{with_company.first_name} {companies[with_company.company_id]}", with_company.id),
        ]
    for q, contact_id in probes:
        response = api("viewer").get("/api/v1/contacts", query_string={"q": q, "limit": 500})
        assert response.status_code == 200
        assert contact_id in [c["id"] for c in response.json["data"]], q


def test_tags_custom_fields_and_owners(app, users):
    with app.app_context():
        seed(contacts=500, seed=4, now=NOW)
        tags = {t.key: t.name for t in db.session.scalars(select(Tag))}
        assert len(tags) == 10 and "vip" in tags
        per_contact = Counter(cid for (cid,) in db.session.execute(select(ContactTag.contact_id)))
        assert max(per_contact.values()) <= 3
        assert 0.4 * 500 < len(per_contact) < 0.8 * 500
        fields = {f.name: f for f in db.session.scalars(select(CustomField))}
        assert fields["plan"].type == "select" and fields["plan"].options == ["free", "pro", "team"]
        assert fields["seats"].type == "number"
        assert fields["renewal_date"].type == "date"
        assert fields["newsletter"].type == "boolean"
        values = db.session.scalars(select(CustomFieldValue)).all()
        by_field = {f.id: name for name, f in fields.items()}
        for value in values:
            name = by_field[value.field_id]
            if name == "plan":
                assert value.value_text in ("free", "pro", "team")
            elif name == "seats":
                assert value.value_number >= 1
            elif name == "renewal_date":
                assert value.value_date is not None
            else:
                assert value.value_bool in (True, False)
        assert Counter(by_field[v.field_id] for v in values)["plan"] > 100
        owners = Counter(c.owner_id for c in db.session.scalars(select(Contact)))
        user_ids = set(db.session.scalars(select(User.id)))
        assert set(owners) - {None} == user_ids
        assert owners[None] > 0
        counts = [owners[u] for u in user_ids]
        assert max(counts) - min(counts) <= 1  # round-robin


def test_timeline_matches_the_contacts_dates(app, users):
    with app.app_context():
        seed(contacts=300, activities=1500, seed=8, now=NOW)
        activities = db.session.scalars(select(Activity)).all()
        kinds = Counter(a.kind for a in activities)
        assert set(kinds) <= set(ACTIVITY_KINDS) and len(kinds) >= 8
        purchases = [a for a in activities if a.kind == "custom_event"]
        assert purchases and all(a.event_name == "purchase" and a.value > 0 for a in purchases)
        assert min(a.occurred_at for a in activities) >= NOW - timedelta(days=366)
        latest: dict[int, datetime] = {}
        contacted: dict[int, datetime] = {}
        for a in activities:
            latest[a.contact_id] = max(latest.get(a.contact_id, a.occurred_at), a.occurred_at)
            if a.kind in CONTACTING_KINDS:
                contacted[a.contact_id] = max(
                    contacted.get(a.contact_id, a.occurred_at), a.occurred_at
                )
        for contact in db.session.scalars(select(Contact)):
            assert contact.last_activity_at == latest.get(contact.id)
            assert contact.last_contacted_at == contacted.get(contact.id)
            if contact.id in latest:
                first = min(a.occurred_at for a in activities if a.contact_id == contact.id)
                assert first >= contact.created_at


def test_seeding_again_appends_new_unique_contacts(app, users, api):
    with app.app_context():
        seed(contacts=300, seed=1, now=NOW)
        before = set(db.session.scalars(select(Contact.email)))
        counts = seed(contacts=300, seed=1, now=NOW)
        assert counts["contacts"] == 300
        emails = list(db.session.scalars(select(Contact.email)))
        assert len(emails) == len(set(emails)) == 600
        newest = db.session.scalars(select(Contact).order_by(Contact.id.desc())).first()
        assert newest.email not in before
        domains = list(db.session.scalars(select(Company.domain)))
        assert len(domains) == len(set(domains)) == 30
    response = api("viewer").get("/api/v1/contacts", query_string={"q": newest.email})
    assert newest.id in [c["id"] for c in response.json["data"]]


def test_activities_alone_go_to_existing_contacts(app, users):
    with app.app_context():
        seed(contacts=100, seed=6, now=NOW)
        seed(contacts=0, activities=200, seed=6, now=NOW)
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 100
        for contact in db.session.scalars(select(Contact)):
            newest = db.session.scalar(
                select(func.max(Activity.occurred_at)).where(Activity.contact_id == contact.id)
            )
            if newest is not None:
                assert contact.last_activity_at is not None
                assert contact.last_activity_at >= newest


def test_contact_limit_is_respected(app, users, capsys):
    app.config["CONTACT_LIMIT"] = 50
    with app.app_context():
        counts = seed(contacts=80, seed=1, now=NOW)
        assert counts["contacts"] == 50
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 50
    assert "Contact limit 50" in capsys.readouterr().err


def test_big_load_puts_indexes_triggers_and_search_back(app, users, api):
    """On SQLite a big load drops the FTS triggers and the indexes, leaves WAL for a
    rollback journal and skips foreign key checks while it runs: all of it comes back."""
    sqlite = _sqlite(app)
    size = seed_module.BULK_MIN if sqlite else 3000
    with app.app_context():
        before = _schema()
        try:
            counts = seed(contacts=size, seed=9, now=NOW)
            assert counts["contacts"] == size
            assert _schema() == before
            if sqlite:
                assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
            at_gmail = db.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.email.like("%@gmail.com"))
            )
            assert count(db.session, ContactQuery(q="gmail", archived="include")) >= at_gmail
            assert at_gmail > size // 20
        finally:
            if sqlite:  # statistics of this load would mislead the planner in later tests
                db.session.execute(text("DELETE FROM sqlite_stat1"))
                db.session.commit()
    created = api("member").post("/api/v1/contacts", json={"email": "zoë.zyx@example.org"})
    assert created.status_code == 201
    found = api("member").get("/api/v1/contacts", query_string={"q": "zoe zyx"})
    assert [c["email"] for c in found.json["data"]] == ["zoë.zyx@example.org"]


def _schema() -> list:
    """Triggers and indexes as the database describes them."""
    if db.engine.dialect.name == "sqlite":
        return db.session.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                "ORDER BY name"
            )
        ).all()
    return db.session.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
    ).all()


def test_rows_made_in_a_child_process_are_the_same(app, users, monkeypatch):
    """Big loads generate rows in a forked process, small ones inline: the same rows."""

    def snapshot():
        return db.session.execute(
            select(Contact.email, Contact.search_text, Contact.created_at).order_by(Contact.id)
        ).all()

    with app.app_context():
        seed(contacts=3000, activities=500, seed=12, now=NOW)
        inline = snapshot()
        for table in ("activities", "custom_field_values", "contact_tags", "contacts", "companies"):
            db.session.execute(text(f"DELETE FROM {table}"))
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("INSERT INTO contacts_fts(contacts_fts) VALUES ('delete-all')"))
        db.session.commit()
        monkeypatch.setattr(seed_module, "PARALLEL_MIN", 1000)
        seed(contacts=3000, activities=500, seed=12, now=NOW)
        assert snapshot() == inline
