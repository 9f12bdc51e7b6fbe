"""dedupe matching: a staging table for rebuilding match keys in key order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "match_keys_build",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_keys_build")),
    )


def downgrade():
    op.drop_table("match_keys_build")
