"""English names of units and campaigns, for citizens who write in English

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('unit', sa.Column('name_en', sa.String(length=255), nullable=True))
    op.add_column('campaign', sa.Column('short_title_en', sa.String(length=255), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of these tables would trip the foreign
    # keys that point at them.
    op.drop_column('campaign', 'short_title_en')
    op.drop_column('unit', 'name_en')
