"""volume name_id (the data name of a migration's temporary volume)

Revision ID: 5b7e2c9d1f30
Revises: 0828ecbecac5
Create Date: 2026-11-30 17:05:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '5b7e2c9d1f30'
down_revision = '0828ecbecac5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('volume_volume', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('volume_volume', schema=None) as batch_op:
        batch_op.drop_column('name_id')
