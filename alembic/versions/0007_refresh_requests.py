"""Full refreshes asked for and not finished yet: etl.refresh_requests.

A `--full-refresh` run records one row per selected table asset before any work; the asset's
refresh removes it when it succeeds, so a run that dies midway leaves the rest to the next run.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refresh_requests",
        sa.Column("asset", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("asset", name=op.f("pk_refresh_requests")),
        schema="etl",
    )


def downgrade() -> None:
    op.drop_table("refresh_requests", schema="etl")
