"""per-user quota limits

Revision ID: 7c1e0b2d4a55
Revises: 3ecb288b49f1
Create Date: 2026-11-30 11:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "7c1e0b2d4a55"
down_revision = "3ecb288b49f1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_user_quota",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "user_id", "resource", name=op.f("pk_compute_user_quota")
        ),
    )


def downgrade() -> None:
    op.drop_table("compute_user_quota")
