"""Session replay: recorded sessions, their chunks, and a retention per client.

A session row is written once at start and touched again only when it is
closed (finalised by the SDK, or idle); chunk count, bytes and duration are
derived from the chunk rows, so parallel chunk uploads on many nodes never
contend for the session row. The chunks' events live in the blob store; a
chunk row says where, and what the player needs to mark gaps.

``identities`` holds what the host app told us about the person behind an
``anonymousId`` (``POST /api/identify``), so a session can show who it was.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("replay_retention_days", sa.Integer(), nullable=False, server_default="30")
        )
    op.create_table(
        "replay_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("sdk_session_id", sa.String(128), nullable=False),
        sa.Column("anonymous_id", sa.String(128), nullable=True),
        sa.Column("user_email", sa.String(254), nullable=True),
        sa.Column("start_url", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_replay_sessions_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_replay_sessions"),
    )
    op.create_index(
        "ix_replay_sessions_client_id_sdk_session_id",
        "replay_sessions",
        ["client_id", "sdk_session_id"],
        unique=True,
    )
    op.create_index(
        "ix_replay_sessions_client_id_created_at",
        "replay_sessions",
        ["client_id", "created_at"],
    )
    op.create_index(
        "ix_replay_sessions_closed_at_created_at",
        "replay_sessions",
        ["closed_at", "created_at"],
    )
    # An identify fills in the person on that anonymousId's sessions.
    op.create_index(
        "ix_replay_sessions_client_id_anonymous_id",
        "replay_sessions",
        ["client_id", "anonymous_id"],
    )
    # The sessions list's person filter (emails are stored lowercased).
    op.create_index(
        "ix_replay_sessions_client_id_user_email_created_at",
        "replay_sessions",
        ["client_id", "user_email", "created_at"],
    )
    op.create_table(
        "replay_chunks",
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(300), nullable=False),
        sa.Column("compressed_bytes", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("dropped_before", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["replay_sessions.id"],
            name="fk_replay_chunks_session_id_replay_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_replay_chunks"),
    )

    op.create_table(
        "identities",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("anonymous_id", sa.String(128), nullable=False),
        sa.Column("external_user_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column(
            "traits",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name="fk_identities_client_id_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "anonymous_id", name="pk_identities"),
    )

    # Feedback given during a session: the player's markers and the sessions
    # list's "has feedback" column and filter.
    op.create_index(
        "ix_feedback_client_id_session_replay_id", "feedback", ["client_id", "session_replay_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_client_id_session_replay_id", table_name="feedback")
    op.drop_table("identities")
    op.drop_table("replay_chunks")
    op.drop_index(
        "ix_replay_sessions_client_id_user_email_created_at", table_name="replay_sessions"
    )
    op.drop_index("ix_replay_sessions_client_id_anonymous_id", table_name="replay_sessions")
    op.drop_index("ix_replay_sessions_closed_at_created_at", table_name="replay_sessions")
    op.drop_index("ix_replay_sessions_client_id_created_at", table_name="replay_sessions")
    op.drop_index("ix_replay_sessions_client_id_sdk_session_id", table_name="replay_sessions")
    op.drop_table("replay_sessions")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("replay_retention_days")
