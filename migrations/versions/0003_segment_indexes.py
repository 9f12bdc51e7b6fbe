"""segment indexes

Covering indexes for segment counts: activities of a kind in a time window by contact,
and a custom event's values per contact in contact order (GROUP BY without a sort). The
new indexes start with the columns of the ones they replace, so every query those served
is still served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_activities_kind_occurred', table_name='activities')
    op.create_index(
        'ix_activities_kind_occurred_contact',
        'activities',
        ['kind', 'occurred_at', 'contact_id'],
        unique=False,
    )
    op.drop_index('ix_activities_event_contact', table_name='activities')
    op.create_index(
        'ix_activities_event_contact_occurred',
        'activities',
        ['event_name', 'contact_id', 'kind', 'occurred_at', 'value'],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_activities_event_contact_occurred', table_name='activities')
    op.create_index(
        'ix_activities_event_contact', 'activities', ['event_name', 'contact_id'], unique=False
    )
    op.drop_index('ix_activities_kind_occurred_contact', table_name='activities')
    op.create_index(
        'ix_activities_kind_occurred', 'activities', ['kind', 'occurred_at'], unique=False
    )
