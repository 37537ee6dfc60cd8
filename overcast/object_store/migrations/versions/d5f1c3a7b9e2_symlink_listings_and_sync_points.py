"""listing content types wide enough for a symlink's target (`;symlink_path=/v1/...`), and
container sync points

Revision ID: d5f1c3a7b9e2
Revises: ab2effa1c816
Create Date: 2026-12-01 19:40:00.000000
"""

from alembic import op
import sqlalchemy as sa
import overcast.object_store.models


revision = 'd5f1c3a7b9e2'
down_revision = 'ab2effa1c816'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('object_store_object', schema=None) as batch_op:
        batch_op.alter_column(
            'content_type', existing_type=sa.String(length=256), type_=sa.Text()
        )
    op.create_table('object_store_sync_point',
    sa.Column('container_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ts', sa.String(length=20), nullable=False),
    sa.Column('name', overcast.object_store.models.Name(1024), nullable=False),
    sa.PrimaryKeyConstraint('container_id', name=op.f('pk_object_store_sync_point'))
    )


def downgrade() -> None:
    op.drop_table('object_store_sync_point')
    with op.batch_alter_table('object_store_object', schema=None) as batch_op:
        batch_op.alter_column(
            'content_type', existing_type=sa.Text(), type_=sa.String(length=256)
        )
