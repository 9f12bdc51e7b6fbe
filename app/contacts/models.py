"""Contacts, their tags and their custom field values."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.timeutil import utcnow


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_last_name_id", "last_name", "id"),
        Index("ix_contacts_first_name_id", "first_name", "id"),
        Index("ix_contacts_created_at_id", "created_at", "id"),
        Index("ix_contacts_updated_at_id", "updated_at", "id"),
        Index("ix_contacts_lead_score_id", "lead_score", "id"),
        Index("ix_contacts_last_activity_at_id", "last_activity_at", "id"),
        Index("ix_contacts_last_contacted_at_id", "last_contacted_at", "id"),
        Index("ix_contacts_status_id", "status", "id"),
        Index("ix_contacts_company_id", "company_id"),
        Index("ix_contacts_owner_id", "owner_id"),
        Index("ix_contacts_source", "source"),
        Index("ix_contacts_country_id", "country", "id"),  # segments: ids by country, index only
        Index("ix_contacts_consent_status", "consent_status"),
        Index(  # segment counts subtract the archived, read from this index alone
            "ix_contacts_archived_at_id",
            "archived_at",
            "id",
            sqlite_where=text("archived_at IS NOT NULL"),
            postgresql_where=text("archived_at IS NOT NULL"),
        ),
        Index("ix_contacts_phone", "phone"),
        Index("ix_contacts_mobile_phone", "mobile_phone"),
        Index("ix_contacts_external_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    secondary_emails: Mapped[list | None] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(32))
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    home_phone: Mapped[str | None] = mapped_column(String(32))
    secondary_phones: Mapped[list | None] = mapped_column(JSON)
    job_title: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    role: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="active")
    lifecycle: Mapped[str | None] = mapped_column(String(20))
    lead_score: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    address_line1: Mapped[str | None] = mapped_column(String(300))
    address_line2: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(30))
    country: Mapped[str | None] = mapped_column(String(2))
    mailing_line1: Mapped[str | None] = mapped_column(String(300))
    mailing_line2: Mapped[str | None] = mapped_column(String(300))
    mailing_city: Mapped[str | None] = mapped_column(String(200))
    mailing_state: Mapped[str | None] = mapped_column(String(200))
    mailing_postcode: Mapped[str | None] = mapped_column(String(30))
    mailing_country: Mapped[str | None] = mapped_column(String(2))
    birthday: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    twitter: Mapped[str | None] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(200))
    email_verification: Mapped[str | None] = mapped_column(String(20))
    email_score: Mapped[int | None] = mapped_column(Integer)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    bounce_risk: Mapped[str | None] = mapped_column(String(10))
    consent_status: Mapped[str] = mapped_column(String(20), default="unknown")
    consent_type: Mapped[str | None] = mapped_column(String(20))
    consent_date: Mapped[datetime | None] = mapped_column(DateTime)
    consent_source: Mapped[str | None] = mapped_column(String(200))
    gdpr_basis: Mapped[str | None] = mapped_column(String(30))
    comm_channel: Mapped[str | None] = mapped_column(String(20))
    comm_frequency: Mapped[str | None] = mapped_column(String(20))
    comm_topics: Mapped[list | None] = mapped_column(JSON)
    referred_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    reports_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_contacted_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # The service bumps `version` once per logical save; the UPDATE checks the old value.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    company = relationship("Company", lazy="raise_on_sql")
    owner = relationship("User", lazy="raise_on_sql")

    @property
    def full_name(self) -> str:
        parts = [self.first_name, self.middle_name, self.last_name]
        return " ".join(p for p in parts if p) or ""


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100), unique=True)
    color: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ContactTag(db.Model):
    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag_id_contact_id", "tag_id", "contact_id"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


CUSTOM_FIELD_TYPES = ("text", "number", "date", "boolean", "select", "multiselect", "json")


class CustomField(db.Model):
    """An admin-defined contact field; its values live typed in CustomFieldValue."""

    __tablename__ = "custom_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    options: Mapped[list | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CustomFieldValue(db.Model):
    """One typed value; a multi-select stores one row per chosen option."""

    __tablename__ = "custom_field_values"
    __table_args__ = (
        Index("ix_cfv_contact_field", "contact_id", "field_id"),
        Index("ix_cfv_field_text", "field_id", "value_text"),
        Index("ix_cfv_field_number", "field_id", "value_number"),
        Index("ix_cfv_field_date", "field_id", "value_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"))
    value_text: Mapped[str | None] = mapped_column(String(1000))
    value_number: Mapped[float | None] = mapped_column(Float)
    value_date: Mapped[date | None] = mapped_column(Date)
    value_bool: Mapped[bool | None] = mapped_column(Boolean)
    value_json: Mapped[dict | list | None] = mapped_column(JSON)
