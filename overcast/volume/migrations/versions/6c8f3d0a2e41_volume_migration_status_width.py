"""volume migration_status wide enough for a temporary volume's `target:<volume id>`

Revision ID: 6c8f3d0a2e41
Revises: 5b7e2c9d1f30
Create Date: 2026-11-30 17:55:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '6c8f3d0a2e41'
down_revision = '5b7e2c9d1f30'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('volume_volume', schema=None) as batch_op:
        batch_op.alter_column(
            'migration_status', existing_type=sa.String(length=32), type_=sa.String(length=255)
        )


def downgrade() -> None:
    with op.batch_alter_table('volume_volume', schema=None) as batch_op:
        batch_op.alter_column(
            'migration_status', existing_type=sa.String(length=255), type_=sa.String(length=32)
        )
