"""integrations: a link whose record the provider deleted stays, as a tombstone

contact_links.deleted_at is set when a provider reports its record deleted; the push
leaves such contacts out, so a contact deleted in HubSpot is not created there again.
Before, the link was removed and the next push re-created the record.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 22:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_links") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("contact_links") as batch:
        batch.drop_column("deleted_at")
