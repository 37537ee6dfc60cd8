"""console auth tokens

Revision ID: b2c4d6e8f0a1
Revises: 7c1e0b2d4a55
Create Date: 2026-11-30 14:30:00
"""

from alembic import op
import sqlalchemy as sa

import overcast.common.db.base

revision = "b2c4d6e8f0a1"
down_revision = "7c1e0b2d4a55"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_console_auth_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("console_type", sa.String(length=32), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("internal_access_path", sa.String(length=255), nullable=False),
        sa.Column("expires", overcast.common.db.base.UTCDateTime(), nullable=False),
        sa.Column("created_at", overcast.common.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_console_auth_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_compute_console_auth_token_token_hash")),
    )
    with op.batch_alter_table("compute_console_auth_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compute_console_auth_token_instance_uuid"), ["instance_uuid"]
        )
        batch_op.create_index(batch_op.f("ix_compute_console_auth_token_expires"), ["expires"])


def downgrade() -> None:
    op.drop_table("compute_console_auth_token")
