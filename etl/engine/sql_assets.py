"""Rebuilding a SQL asset (a mart) atomically: build aside, then swap in one transaction.

Readers keep seeing the previous table until the swap commits; a failed build leaves it intact.
Running twice gives the same contents (the SELECT is the whole definition).
"""

from __future__ import annotations

from psycopg import sql

from etl.engine.context import AssetResult, RunContext
from etl.engine.spec import SqlAsset
from etl.services.postgres import pg_connect


def rebuild(asset: SqlAsset, ctx: RunContext) -> AssetResult:
    target = sql.Identifier(asset.schema, asset.name)
    building = sql.Identifier(asset.schema, f"{asset.name}__building")
    result = AssetResult()
    with pg_connect(ctx.postgres_url) as conn, conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(asset.schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(building))
        conn.execute(sql.SQL("CREATE TABLE {} AS ").format(building) + sql.SQL(asset.sql))  # type: ignore[arg-type]
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(building, sql.Identifier(asset.name))
        )
        for i, columns in enumerate(asset.indexes):
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(
                    sql.Identifier(f"ix_{asset.name}_{i}"),
                    target,
                    sql.SQL(", ").join(sql.Identifier(c.strip()) for c in columns.split(",")),
                )
            )
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()
        result.add_rows(f"{asset.schema}.{asset.name}", count[0] if count else 0)
    return result
