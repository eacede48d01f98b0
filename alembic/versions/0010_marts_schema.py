"""The marts' schema `dwh`, created by the owner so that the loader only creates tables in it.

Until now the first mart build created `dwh`, which needs the right to create schemas in the
database; the ETL's login (the loader) no longer has it (etl.services.roles).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS dwh")


def downgrade() -> None:
    """Kept: its tables are the loader's marts (rebuilt from the data), not the migrations'."""
