"""pictures of MMS reports waiting to be fetched

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:53:52.539787
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pendingmedia',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('message_sid', sa.String(length=64), nullable=False),
    sa.Column('media_sid', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('queued', 'fetching', 'kept', 'failed', name='ck_mediastatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_sid', 'media_sid', name='uq_pendingmedia_sid')
    )
    with op.batch_alter_table('pendingmedia', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pendingmedia_report_id'), ['report_id'], unique=False)
        batch_op.create_index('ix_pendingmedia_status_next', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pendingmedia', schema=None) as batch_op:
        batch_op.drop_index('ix_pendingmedia_status_next')
        batch_op.drop_index(batch_op.f('ix_pendingmedia_report_id'))

    op.drop_table('pendingmedia')
