"""revocable organiser tokens; last use of cached assessments (LRU)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:30:00

Every existing organiser's token becomes its first ``organiser_tokens`` row (source
"legacy"), so tokens valid before the upgrade stay valid after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organiser_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organiser_id"], ["organisers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("organiser_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organiser_tokens_organiser_id"), ["organiser_id"], unique=False)
    op.execute(
        "INSERT INTO organiser_tokens (organiser_id, token_hash, source, created_at) "
        "SELECT id, token_hash, 'legacy', created_at FROM organisers"
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_assessments_used_at"), ["used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_used_at"))
        batch_op.drop_column("used_at")
    with op.batch_alter_table("organiser_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organiser_tokens_organiser_id"))
    op.drop_table("organiser_tokens")
