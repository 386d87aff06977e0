"""Screenshots, their links to feedback, and the per-client privacy switch.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column(
                "screenshots_private", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "screenshots",
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(300), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_screenshots_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_name", name="pk_screenshots"),
    )
    op.create_index("ix_screenshots_created_at", "screenshots", ["created_at"])
    op.create_table(
        "feedback_screenshots",
        sa.Column("feedback_id", sa.String(32), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name="fk_feedback_screenshots_feedback_id_feedback",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_name"],
            ["screenshots.file_name"],
            name="fk_feedback_screenshots_file_name_screenshots",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feedback_id", "file_name", name="pk_feedback_screenshots"),
    )
    op.create_index("ix_feedback_screenshots_file_name", "feedback_screenshots", ["file_name"])


def downgrade() -> None:
    op.drop_index("ix_feedback_screenshots_file_name", table_name="feedback_screenshots")
    op.drop_table("feedback_screenshots")
    op.drop_index("ix_screenshots_created_at", table_name="screenshots")
    op.drop_table("screenshots")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("screenshots_private")
