"""Reject codes: etl.rejects.code says why as a code next to the reasons' text.

The engine finds a snapshot's key clashes by `code = 'key_clash'` instead of matching the
wording of two messages; analysts can group rejects by code. Older rejects keep NULL.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rejects", sa.Column("code", sa.Text(), nullable=True), schema="etl")


def downgrade() -> None:
    op.drop_column("rejects", "code", schema="etl")
