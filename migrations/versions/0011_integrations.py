"""integrations: account errors/details/schedule, contact links, email verification

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 14:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch copy): on SQLite a copy of contacts would drop its FTS triggers.
    op.add_column("connected_accounts", sa.Column("errors", sa.JSON(), nullable=True))
    op.add_column("connected_accounts", sa.Column("details", sa.JSON(), nullable=True))
    op.add_column("connected_accounts", sa.Column("sync_minutes", sa.Integer(), nullable=True))
    op.add_column("contacts", sa.Column("email_score", sa.Integer(), nullable=True))
    op.add_column("contacts", sa.Column("email_verified_at", sa.DateTime(), nullable=True))
    op.add_column("contacts", sa.Column("bounce_risk", sa.String(length=10), nullable=True))
    op.create_table(
        "contact_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.String(length=200), nullable=False),
        sa.Column("remote_updated_at", sa.DateTime(), nullable=True),
        sa.Column("synced_version", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["connected_accounts.id"],
            name=op.f("fk_contact_links_account_id_connected_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_links_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_links")),
        sa.UniqueConstraint("account_id", "remote_id", name="uq_contact_links_account_remote"),
        sa.UniqueConstraint("account_id", "contact_id", name="uq_contact_links_account_contact"),
    )
    op.create_index(op.f("ix_contact_links_contact_id"), "contact_links", ["contact_id"])
    # Audit entries name plugin syncs ("sync:hubspot"), longer than the 10 characters of old.
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.alter_column(
            "via", existing_type=sa.String(length=10), type_=sa.String(length=40)
        )


def downgrade():
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.alter_column(
            "via", existing_type=sa.String(length=40), type_=sa.String(length=10)
        )
    op.drop_index(op.f("ix_contact_links_contact_id"), table_name="contact_links")
    op.drop_table("contact_links")
    with op.batch_alter_table("connected_accounts") as batch_op:
        batch_op.drop_column("sync_minutes")
        batch_op.drop_column("details")
        batch_op.drop_column("errors")
    op.drop_column("contacts", "bounce_risk")
    op.drop_column("contacts", "email_verified_at")
    op.drop_column("contacts", "email_score")
