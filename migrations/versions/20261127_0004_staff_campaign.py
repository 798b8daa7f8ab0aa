"""staff accounts limited to one campaign

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a foreign key to an existing table in place
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch.create_index('ix_staff_user_campaign_id', ['campaign_id'], unique=False)
        batch.create_foreign_key('fk_staff_user_campaign_id', 'campaign', ['campaign_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_constraint('fk_staff_user_campaign_id', type_='foreignkey')
        batch.drop_index('ix_staff_user_campaign_id')
        batch.drop_column('campaign_id')
