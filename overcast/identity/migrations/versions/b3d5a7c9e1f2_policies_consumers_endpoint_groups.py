"""policies, OAuth1 consumers, endpoint groups, domain configuration

Revision ID: b3d5a7c9e1f2
Revises: 978907dece25
Create Date: 2026-11-30 11:15:00
"""

from alembic import op
import sqlalchemy as sa


revision = "b3d5a7c9e1f2"
down_revision = "978907dece25"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_policy",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_policy")),
    )
    op.create_table(
        "identity_consumer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_consumer")),
    )
    op.create_table(
        "identity_endpoint_group",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_endpoint_group")),
    )


    op.create_table(
        "identity_domain_config",
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=255), nullable=False),
        sa.Column("option", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
            name=op.f("fk_identity_domain_config_domain_id_identity_domain"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "domain_id", "group", "option", name=op.f("pk_identity_domain_config")
        ),
    )


def downgrade() -> None:
    op.drop_table("identity_domain_config")
    op.drop_table("identity_endpoint_group")
    op.drop_table("identity_consumer")
    op.drop_table("identity_policy")
