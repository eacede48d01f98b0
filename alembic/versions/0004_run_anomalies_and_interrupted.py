"""Run records: cursor anomalies counted, the lock holder's backend pid, status `interrupted`.

- `cursor_anomalies`: documents a run read whose cursor value was missing, null, not a date or
  in the future (loaded or rejected, never silently skipped).
- `backend_pid`: the PostgreSQL backend that holds the asset's advisory lock while it runs, so a
  run whose process died is shown as `interrupted` as soon as anyone looks.
- `note`: what a run says about itself ("full build", "skipped: inputs unchanged since ...").
- Runs left `running` by a process that died before this revision are marked `interrupted`.

Identity (etl.engine.values.identity) changed with this revision too, without a schema change: `_id`s
that are not ObjectIds are now written with their BSON type (`str:77`, `int:77`). Rows loaded
earlier from such documents keep their old `source_id`; truncate that asset's tables and run
`python -m etl materialize ASSET --full-refresh` to rewrite them.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("running", "success", "failed", "skipped")
NEW = (*OLD, "interrupted")


def _status_check(values: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_asset_runs_status"), "asset_runs", schema="etl", type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(
        op.f("ck_asset_runs_status"), "asset_runs", f"status IN ({listed})", schema="etl"
    )


def upgrade() -> None:
    op.add_column(
        "asset_runs",
        sa.Column("cursor_anomalies", sa.Integer(), server_default="0", nullable=False),
        schema="etl",
    )
    op.add_column("asset_runs", sa.Column("backend_pid", sa.Integer()), schema="etl")
    op.add_column("asset_runs", sa.Column("note", sa.Text()), schema="etl")
    op.create_check_constraint(
        op.f("ck_asset_runs_cursor_anomalies_range"),
        "asset_runs",
        "cursor_anomalies >= 0",
        schema="etl",
    )
    _status_check(NEW)
    op.execute(
        "UPDATE etl.asset_runs SET status = 'interrupted', finished_at = now(), "
        "error = 'the process stopped before it recorded an end' WHERE status = 'running'"
    )


def downgrade() -> None:
    op.execute("UPDATE etl.asset_runs SET status = 'failed' WHERE status = 'interrupted'")
    _status_check(OLD)
    op.drop_constraint(
        op.f("ck_asset_runs_cursor_anomalies_range"), "asset_runs", schema="etl", type_="check"
    )
    op.drop_column("asset_runs", "note", schema="etl")
    op.drop_column("asset_runs", "backend_pid", schema="etl")
    op.drop_column("asset_runs", "cursor_anomalies", schema="etl")
