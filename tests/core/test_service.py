"""The contact service: validation, upsert, audit, field-change activities, locking."""

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.contacts import service
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact, CustomField
from app.extensions import db
from app.timeline.models import Activity


@pytest.fixture
def ctx(app):
    with app.app_context():
        db.session.add(
            CustomField(name="plan", label="Plan", type="select", options=["Free", "Pro"])
        )
        db.session.add(CustomField(name="seats", label="Seats", type="number"))
        db.session.commit()
        yield


def test_create_then_update_records_audit_and_timeline(ctx):
    contact = service.create_contact(
        {"email": "Ada@Example.com", "first_name": "Ada", "company": "Analytical Ltd",
         "tags": ["vip", "Math"], "custom_fields": {"plan": "pro"}},
    )  # fmt: skip
    db.session.commit()
    assert contact.email == "ada@example.com"
    assert service.tag_names(contact.id) == ["Math", "vip"]
    assert service.custom_values(contact.id) == {"plan": ["Pro"]}
    changes = service.update_contact(contact, {"last_name": "Lovelace", "first_name": "Ada"})
    db.session.commit()
    assert changes == {"last_name": [None, "Lovelace"]}
    activity = db.session.scalar(select(Activity).where(Activity.kind == "field_change"))
    assert activity.data["changes"] == {"last_name": [None, "Lovelace"]}
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("create") >= 2 and actions[-1] == "update"  # company + contact, update
    assert contact.version == 2


def test_null_clears_missing_leaves(ctx):
    contact = service.create_contact({"email": "a@x.io", "first_name": "A", "job_title": "CEO"})
    db.session.commit()
    service.update_contact(contact, {"job_title": None, "custom_fields": {"seats": 3}})
    db.session.commit()
    assert contact.job_title is None and contact.first_name == "A"
    assert service.custom_values(contact.id) == {"seats": [3.0]}
    service.update_contact(contact, {"custom_fields": {"seats": None}})
    db.session.commit()
    assert service.custom_values(contact.id) == {}


def test_bad_values_change_nothing(ctx):
    contact = service.create_contact({"email": "b@x.io", "first_name": "B"})
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        service.update_contact(
            contact,
            {"first_name": "Bee", "phone": "nope", "custom_fields": {"plan": "gold"}, "zzz": 1},
        )
    db.session.rollback()
    assert set(err.value.errors) == {"phone", "custom.plan", "zzz"}
    db.session.refresh(contact)
    assert contact.first_name == "B" and contact.version == 1


def test_stale_version_is_refused_with_current_values(ctx):
    contact = service.create_contact({"email": "c@x.io", "first_name": "Cy"})
    db.session.commit()
    service.update_contact(contact, {"first_name": "Cyril"}, expected_version=1)
    db.session.commit()
    with pytest.raises(service.VersionConflict) as err:
        service.update_contact(contact, {"first_name": "Cyrus"}, expected_version=1)
    assert err.value.current == {"first_name": "Cyril"}


def test_upsert_by_email_case_insensitive(ctx):
    first, created = service.upsert_contact({"email": "D@X.io", "first_name": "D"})
    db.session.commit()
    again, created_again = service.upsert_contact({"email": "d@x.IO", "last_name": "Duck"})
    db.session.commit()
    assert created and not created_again and first.id == again.id
    assert again.first_name == "D" and again.last_name == "Duck"
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_duplicate_email_and_contact_limit(app, ctx):
    service.create_contact({"email": "e@x.io"})
    db.session.commit()
    with pytest.raises(service.DuplicateEmail):
        service.create_contact({"email": "E@x.io"})
    db.session.rollback()
    app.config["CONTACT_LIMIT"] = 2
    service.create_contact({"email": "f@x.io"})
    db.session.commit()
    with pytest.raises(service.ContactLimitReached) as err:
        service.create_contact({"email": "g@x.io"})
    assert err.value.remaining == 0


def test_company_rename_reindexes_search(ctx):
    contact = service.create_contact({"email": "h@x.io", "company": "Old Name"})
    db.session.commit()
    assert "old name" in contact.search_text
    from app.companies.models import Company

    company = db.session.get(Company, contact.company_id)
    company.name = "Nouvelle Société"
    service.refresh_search_text_for_company(company.id)
    db.session.commit()
    assert "nouvelle societe" in db.session.get(Contact, contact.id).search_text
