"""segment counts: the archived contacts' ids read from their partial index alone

Segment counts on PostgreSQL subtract the archived contacts from a union of id sets;
the partial index on archived_at grows an id column, so that is an index-only scan
instead of a table read per archived contact (on SQLite every index holds the rowid
already, so nothing changes there but the name).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 19:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ARCHIVED = sa.text("archived_at IS NOT NULL")


def upgrade():
    op.create_index(
        "ix_contacts_archived_at_id",
        "contacts",
        ["archived_at", "id"],
        unique=False,
        sqlite_where=ARCHIVED,
        postgresql_where=ARCHIVED,
    )
    op.drop_index("ix_contacts_archived_at", table_name="contacts")


def downgrade():
    op.create_index(
        "ix_contacts_archived_at",
        "contacts",
        ["archived_at"],
        unique=False,
        sqlite_where=ARCHIVED,
        postgresql_where=ARCHIVED,
    )
    op.drop_index("ix_contacts_archived_at_id", table_name="contacts")
