"""match keys keyed by contact: primary key (contact_id, key), an index on (key, contact_id)

A full rebuild of the match keys now appends them in contact order and builds the key
index once, instead of sorting millions of staged keys into the table. On SQLite the
table becomes WITHOUT ROWID (its primary key is the table). The keys are copied over.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 18:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _create(name: str, first: str, second: str, **kw) -> None:
    op.create_table(
        name,
        sa.Column(first, sa.Integer() if first == "contact_id" else sa.String(200), nullable=False),
        sa.Column(second, sa.Integer() if second == "contact_id" else sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_match_keys_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(first, second, name=op.f("pk_match_keys")),
        **kw,
    )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_match_keys", "match_keys", type_="primary")
        op.create_primary_key("pk_match_keys", "match_keys", ["contact_id", "key"])
        op.drop_index("ix_match_keys_contact_id", table_name="match_keys")
        op.create_index("ix_match_keys_key", "match_keys", ["key", "contact_id"])
        return
    op.rename_table("match_keys", "match_keys_old")
    op.execute("DROP INDEX ix_match_keys_contact_id")
    _create("match_keys", "contact_id", "key", sqlite_with_rowid=False)
    op.execute(
        "INSERT INTO match_keys (contact_id, key) SELECT contact_id, key FROM match_keys_old "
        "ORDER BY contact_id, key"
    )
    op.drop_table("match_keys_old")
    op.create_index("ix_match_keys_key", "match_keys", ["key", "contact_id"])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_match_keys_key", table_name="match_keys")
        op.drop_constraint("pk_match_keys", "match_keys", type_="primary")
        op.create_primary_key("pk_match_keys", "match_keys", ["key", "contact_id"])
        op.create_index("ix_match_keys_contact_id", "match_keys", ["contact_id"])
        return
    op.drop_index("ix_match_keys_key", table_name="match_keys")
    op.rename_table("match_keys", "match_keys_old")
    _create("match_keys", "key", "contact_id")
    op.execute(
        "INSERT INTO match_keys (key, contact_id) SELECT key, contact_id FROM match_keys_old "
        "ORDER BY key, contact_id"
    )
    op.drop_table("match_keys_old")
    op.create_index("ix_match_keys_contact_id", "match_keys", ["contact_id"])
