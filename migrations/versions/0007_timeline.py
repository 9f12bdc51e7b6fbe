"""timeline (reserved; empty until that work needs a schema change)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00.000000

"""

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
