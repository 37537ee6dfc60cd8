"""listing rows keep their newest change (`changed_ts`: the data's timestamp or a later
POST's), which container sync walks

Revision ID: e8a4c2f61d37
Revises: d5f1c3a7b9e2
Create Date: 2026-12-01 20:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'e8a4c2f61d37'
down_revision = 'd5f1c3a7b9e2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('object_store_object', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('changed_ts', sa.String(length=20), nullable=False, server_default='')
        )
    op.execute("UPDATE object_store_object SET changed_ts = ts")


def downgrade() -> None:
    with op.batch_alter_table('object_store_object', schema=None) as batch_op:
        batch_op.drop_column('changed_ts')
