"""dashboard sessions

Revision ID: 0001_dashboard
Revises:
Create Date: 2026-11-30 14:00:00
"""

from alembic import op
import sqlalchemy as sa
import overcast.common.db.base


revision = '0001_dashboard'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dashboard_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=255), nullable=False),
    sa.Column('domain_name', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('project_name', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('base_token', sa.Text(), nullable=False),
    sa.Column('expires_at', overcast.common.db.base.UTCDateTime(), nullable=False),
    sa.Column('created_at', overcast.common.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_session'))
    )
    op.create_index(op.f('ix_dashboard_session_expires_at'), 'dashboard_session', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_dashboard_session_expires_at'), table_name='dashboard_session')
    op.drop_table('dashboard_session')
