"""metadata definition namespaces

Revision ID: 0002_image
Revises: 0001_image
Create Date: 2026-11-30 11:20:00
"""

from alembic import op
import sqlalchemy as sa
import overcast.common.db.base


revision = "0002_image"
down_revision = "0001_image"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_metadef_namespace",
        sa.Column("namespace", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("objects", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("resource_types", sa.JSON(), nullable=False),
        sa.Column("created_at", overcast.common.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", overcast.common.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_image_metadef_namespace")),
    )


def downgrade() -> None:
    op.drop_table("image_metadef_namespace")
