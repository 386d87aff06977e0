"""Sign-in limits: atomic counters per (email, IP) and per IP; audit rows with a count.

The per-email ``sign_in_failures`` rows (one per failure, counted with a
read-then-insert that raced) give way to ``sign_in_limits``: one row per key
and 15-minute window, incremented by a single upsert. ``audit_log`` gets a
``count`` (rate-limited attempts are one row per key and window) and an index
on ``at`` for its retention.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_limits",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name="pk_sign_in_limits"),
    )
    op.create_index("ix_sign_in_limits_window_start", "sign_in_limits", ["window_start"])
    op.drop_index("ix_sign_in_failures_email_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.add_column("audit_log", sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("count")
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_failures"),
    )
    op.create_index("ix_sign_in_failures_email_at", "sign_in_failures", ["email", "at"])
    op.drop_index("ix_sign_in_limits_window_start", table_name="sign_in_limits")
    op.drop_table("sign_in_limits")
