"""Partitioned snapshots: etl.snapshots (one open per asset) and etl.snapshot_ranges.

A first load or full refresh of a large collection can be split into `_id` ranges that workers
(local processes, or Airflow mapped tasks) load independently; each range's checkpoint is
committed with its rows, so a killed worker resumes where it stopped (etl.engine.snapshots.snapshot).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("snapshot_id", sa.Text(), nullable=False),
        sa.Column("asset", sa.Text(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("full_refresh", sa.Boolean(), nullable=False),
        sa.Column("first_load", sa.Boolean(), nullable=False),
        sa.Column("cursor_bound", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_last_id", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'finished')", name=op.f("ck_snapshots_status")),
        sa.CheckConstraint("partitions >= 1", name=op.f("ck_snapshots_partitions_range")),
        sa.PrimaryKeyConstraint("snapshot_id", name=op.f("pk_snapshots")),
        schema="etl",
    )
    op.create_index(
        "uq_snapshots_open_asset",
        "snapshots",
        ["asset"],
        unique=True,
        schema="etl",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "snapshot_ranges",
        sa.Column("snapshot_id", sa.Text(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("lower", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("upper", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expected", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("checkpoint", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("documents_read", sa.Integer(), nullable=False),
        sa.Column("documents_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_written", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rejects", sa.Integer(), nullable=False),
        sa.Column("cursor_anomalies", sa.Integer(), nullable=False),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_snapshot_ranges_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_snapshot_ranges_attempts_range")),
        sa.CheckConstraint(
            "cursor_anomalies >= 0", name=op.f("ck_snapshot_ranges_cursor_anomalies_range")
        ),
        sa.CheckConstraint(
            "documents_read >= 0", name=op.f("ck_snapshot_ranges_documents_read_range")
        ),
        sa.CheckConstraint(
            "documents_unchanged >= 0", name=op.f("ck_snapshot_ranges_documents_unchanged_range")
        ),
        sa.CheckConstraint("expected >= 0", name=op.f("ck_snapshot_ranges_expected_range")),
        sa.CheckConstraint("index >= 0", name=op.f("ck_snapshot_ranges_index_range")),
        sa.CheckConstraint("rejects >= 0", name=op.f("ck_snapshot_ranges_rejects_range")),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["etl.snapshots.snapshot_id"],
            name=op.f("fk_snapshot_ranges_snapshot_id_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "index", name=op.f("pk_snapshot_ranges")),
        schema="etl",
    )


def downgrade() -> None:
    op.drop_table("snapshot_ranges", schema="etl")
    op.drop_index(
        "uq_snapshots_open_asset",
        table_name="snapshots",
        schema="etl",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("snapshots", schema="etl")
