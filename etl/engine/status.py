"""Read-only views of the engine's bookkeeping: per-asset status and the latest rejects."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from etl.engine.graph import AssetGraph

LAST_RUNS = """
SELECT DISTINCT ON (asset) asset, run_id, status, finished_at, rejects, error
FROM etl.asset_runs WHERE asset = ANY(%s) ORDER BY asset, started_at DESC
"""
WATERMARKS = "SELECT asset, collection, cursor_value FROM etl.watermarks WHERE asset = ANY(%s)"


def asset_status(conn: psycopg.Connection, graph: AssetGraph) -> list[dict[str, Any]]:
    """One dict per asset in run order: last run, status, current rows, rejects, watermark."""
    names = list(graph.order)
    with conn.cursor(row_factory=dict_row) as cur:
        runs = {r["asset"]: r for r in cur.execute(LAST_RUNS, [names]).fetchall()}
        marks = {r["asset"]: r for r in cur.execute(WATERMARKS, [names]).fetchall()}
    existing = {
        f"{s}.{t}"
        for s, t in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname <> 'pg_catalog'"
        )
    }
    out = []
    for name in names:
        asset = graph.assets[name]
        run = runs.get(name, {})
        mark = marks.get(name)
        main_table = asset.tables[0] if asset.tables else None
        rows = None
        if main_table in existing:
            schema, table = main_table.split(".")
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
            ).fetchone()
            rows = count[0] if count else 0
        cursor_value = mark["cursor_value"] if mark else None
        out.append(
            {
                "asset": name,
                "kind": asset.kind,
                "group": asset.group,
                "table": main_table,
                "run_id": run.get("run_id"),
                "status": run.get("status"),
                "finished_at": run.get("finished_at"),
                "rows": rows,
                "rejects": run.get("rejects"),
                "watermark": cursor_value.isoformat(timespec="seconds") if cursor_value else None,
                "error": run.get("error"),
            }
        )
    return out


def latest_rejects(
    conn: psycopg.Connection, asset: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest rejects (of one asset, or all), each with its reasons and raw document."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            SELECT id, run_id, asset, collection, source_id, reasons, document, rejected_at
            FROM etl.rejects WHERE %(asset)s::text IS NULL OR asset = %(asset)s
            ORDER BY rejected_at DESC, id DESC LIMIT %(limit)s
            """,
            {"asset": asset, "limit": limit},
        ).fetchall()
