"""which years' holiday schedules are complete (published by the State Council and entered)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 16:20:00
"""
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'calendar_year',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('published', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    # Until now a year with any entry counted as published: keep that for existing data.
    days = op.get_bind().execute(sa.text("SELECT day FROM calendaroverride")).scalars().all()
    years = sorted({date.fromisoformat(str(day)[:10]).year for day in days})
    if years:
        op.bulk_insert(table, [{'year': y, 'published': True, 'source': ''} for y in years])


def downgrade() -> None:
    op.drop_table('calendar_year')
