"""trace spans, links and key

Revision ID: 0001_trace
Revises:
Create Date: 2026-11-30 14:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0001_trace"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trace_span",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=16), nullable=True),
        sa.Column("phase", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("duration_us", sa.BigInteger(), nullable=True),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_span")),
    )
    op.create_index("ix_trace_span_trace", "trace_span", ["trace_id", "id"], unique=False)
    op.create_table(
        "trace_link",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_link")),
    )
    op.create_index(op.f("ix_trace_link_trace_id"), "trace_link", ["trace_id"], unique=False)
    op.create_index(
        "ix_trace_link_resource",
        "trace_link",
        ["resource_type", "resource_id", "id"],
        unique=False,
    )
    op.create_table(
        "trace_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_key")),
    )


def downgrade() -> None:
    op.drop_table("trace_key")
    op.drop_index("ix_trace_link_resource", table_name="trace_link")
    op.drop_index(op.f("ix_trace_link_trace_id"), table_name="trace_link")
    op.drop_table("trace_link")
    op.drop_index("ix_trace_span_trace", table_name="trace_span")
    op.drop_table("trace_span")
