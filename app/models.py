"""Imports every model so the metadata (and Alembic) sees all tables."""

from app.audit.models import AuditEntry
from app.auth.models import ApiToken, User
from app.companies.models import Company
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.dedupe.models import DuplicatePair, MatchKey, Merge
from app.imports.models import Import, ImportRowError
from app.integrations.models import ConnectedAccount, ContactLink
from app.jobs.models import Job
from app.lists.models import ContactList, ListMembership
from app.pipeline.models import Deal, Stage
from app.scoring.models import AppSetting, ScoringRule
from app.segments.models import Segment
from app.timeline.models import Activity

__all__ = [
    "Activity",
    "ApiToken",
    "AppSetting",
    "AuditEntry",
    "Company",
    "ConnectedAccount",
    "Contact",
    "ContactLink",
    "ContactList",
    "ContactTag",
    "CustomField",
    "CustomFieldValue",
    "Deal",
    "DuplicatePair",
    "Import",
    "ImportRowError",
    "Job",
    "ListMembership",
    "MatchKey",
    "Merge",
    "ScoringRule",
    "Segment",
    "Stage",
    "Tag",
    "User",
]
