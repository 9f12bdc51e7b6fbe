"""segment counts on PostgreSQL: contacts by country read from the index alone

The country index grows an id column, so "country in (...)" inside a segment yields ids
from the index without touching the table (PostgreSQL; on SQLite every index holds the
rowid already, so nothing changes there but the name).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 10:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_contacts_country_id", "contacts", ["country", "id"], unique=False)
    op.drop_index("ix_contacts_country", table_name="contacts")


def downgrade():
    op.create_index("ix_contacts_country", "contacts", ["country"], unique=False)
    op.drop_index("ix_contacts_country_id", table_name="contacts")
