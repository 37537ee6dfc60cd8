"""image tasks

Revision ID: 0003_image
Revises: 0002_image
Create Date: 2026-11-30 17:07:12.571449
"""

from alembic import op
import sqlalchemy as sa
import overcast.common.db.base


revision = "0003_image"
down_revision = "0002_image"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('image_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('input', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('expires_at', overcast.common.db.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', overcast.common.db.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', overcast.common.db.base.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', overcast.common.db.base.UTCDateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_task'))
    )
    with op.batch_alter_table('image_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_task_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_task_deleted'), ['deleted'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_task_image_id'), ['image_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_task_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_task_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('image_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_task_status'))
        batch_op.drop_index(batch_op.f('ix_image_task_owner'))
        batch_op.drop_index(batch_op.f('ix_image_task_image_id'))
        batch_op.drop_index(batch_op.f('ix_image_task_deleted'))
        batch_op.drop_index(batch_op.f('ix_image_task_created_at'))

    op.drop_table('image_task')
