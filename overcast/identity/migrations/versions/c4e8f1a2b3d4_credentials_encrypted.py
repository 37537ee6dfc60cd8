"""credential blobs encrypted at rest (Fernet, DATA_DIR/credential-keys)

Revision ID: c4e8f1a2b3d4
Revises: b3d5a7c9e1f2
Create Date: 2026-11-30 17:20:00

Existing rows are encrypted here with the cipher identity hands in
(`context.config.attributes["credential_cipher"]`); without it, a table that holds
credentials is not migrated.
"""

from alembic import context, op
import sqlalchemy as sa


revision = "c4e8f1a2b3d4"
down_revision = "b3d5a7c9e1f2"
branch_labels = None
depends_on = None

TABLE = sa.table(
    "identity_credential",
    sa.column("id", sa.String),
    sa.column("blob", sa.Text),
    sa.column("encrypted_blob", sa.Text),
    sa.column("key_hash", sa.String),
)


def _cipher():
    cipher = context.config.attributes.get("credential_cipher")
    if cipher is None:
        raise RuntimeError("credentials need the credential keys to be migrated")
    return cipher


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(TABLE.c.id, TABLE.c.blob)).all()
    cipher = _cipher() if rows else None  # refused before the table changes
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encrypted_blob", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("key_hash", sa.String(length=64), nullable=True))
    for cred_id, blob in rows:
        encrypted, key_hash = cipher.encrypt(blob)
        bind.execute(
            TABLE.update()
            .where(TABLE.c.id == cred_id)
            .values(encrypted_blob=encrypted, key_hash=key_hash)
        )
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.alter_column("encrypted_blob", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("key_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("blob")


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(TABLE.c.id, TABLE.c.encrypted_blob)).all()
    cipher = _cipher() if rows else None
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blob", sa.Text(), nullable=True))
    for cred_id, encrypted in rows:
        bind.execute(
            TABLE.update().where(TABLE.c.id == cred_id).values(blob=cipher.decrypt(encrypted))
        )
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.alter_column("blob", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("key_hash")
        batch_op.drop_column("encrypted_blob")
