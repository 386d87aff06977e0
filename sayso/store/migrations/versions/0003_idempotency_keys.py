"""Idempotency keys on feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
    # NULLs are distinct in a unique index on both databases, so only keyed
    # submissions are constrained.
    op.create_index(
        "ix_feedback_client_id_idempotency_key",
        "feedback",
        ["client_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_client_id_idempotency_key", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("idempotency_key")
