"""Replay chunks: first and last event timestamps, recorded at ingest.

The player marks a gap in a recording between the last event before it and
the first after it. Reading those from the chunks' blobs meant inflating and
parsing up to 16 MiB per chunk on every view; ingest has the chunk parsed
anyway, so it keeps both timestamps (epoch ms, the browser's clock) in the
row. Chunks stored before this migration have NULL: no marker, never a parse.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("replay_chunks") as batch:
        batch.add_column(sa.Column("first_event_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_event_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replay_chunks") as batch:
        batch.drop_column("last_event_ms")
        batch.drop_column("first_event_ms")
