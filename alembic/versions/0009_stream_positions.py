"""Change-stream positions: etl.stream_positions, one row per streamed asset.

The resume token is committed with the rows of the events up to it (`python -m etl stream`),
so a restarted stream resumes exactly after what was loaded; the row also carries what
`status` shows of the stream (state, lag, events, heals of a lost position, last error).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stream_positions",
        sa.Column("asset", sa.Text(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("resume_token", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("heals", sa.Integer(), nullable=False),
        sa.Column("lag_seconds", sa.Float(), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_heal_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("backend_pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("asset", name=op.f("pk_stream_positions")),
        schema="etl",
    )


def downgrade() -> None:
    op.drop_table("stream_positions", schema="etl")
