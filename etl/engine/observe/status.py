"""Read-only views of the engine's bookkeeping: per-asset status and the latest rejects."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from etl.engine.bookkeeping.records import DEAD_RUN, INTERRUPTED
from etl.engine.declare.graph import AssetGraph
from etl.engine.observe.drift import drift

LAST_RUNS = f"""
SELECT DISTINCT ON (asset) asset, run_id,
    CASE WHEN {DEAD_RUN} THEN 'interrupted' ELSE status END AS status, finished_at, rejects,
    cursor_anomalies, rows_deleted,
    CASE WHEN {DEAD_RUN} THEN %(interrupted)s ELSE error END AS error
FROM etl.asset_runs r WHERE asset = ANY(%(names)s) ORDER BY asset, started_at DESC
"""
"""Each asset's last run; one whose process died reads `interrupted` (the record itself is
marked by the asset's next run: this view only reads)."""
OUTSTANDING_REJECTS = """
SELECT count(*) FROM (
    SELECT DISTINCT ON (source_id) source_id, rejected_at FROM etl.rejects
    WHERE asset = %(asset)s ORDER BY source_id, rejected_at DESC
) r
WHERE r.source_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM {table} t WHERE t.source_id = r.source_id AND t.loaded_at > r.rejected_at
)
"""
"""Documents whose latest reject has not been followed by a successful load of a newer version
(a document that loaded with some array items refused counts until it changes)."""
WATERMARKS = "SELECT asset, collection, cursor_value FROM etl.watermarks WHERE asset = ANY(%s)"


def asset_status(conn: psycopg.Connection, graph: AssetGraph) -> list[dict[str, Any]]:
    """One dict per asset in run order: last run, status, current rows, outstanding rejects,
    cursor anomalies, watermark. A run whose process died reads `interrupted`."""
    names = list(graph.order)
    new_in_run = Counter((d.asset, d.first_run) for d in drift(conn))
    with conn.cursor(row_factory=dict_row) as cur:
        last = cur.execute(LAST_RUNS, {"names": names, "interrupted": INTERRUPTED}).fetchall()
        runs = {r["asset"]: r for r in last}
        marks = {r["asset"]: r for r in cur.execute(WATERMARKS, [names]).fetchall()}
    pending = {a for (a,) in conn.execute("SELECT asset FROM etl.refresh_requests")}
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
        rows = outstanding = None
        if main_table in existing:
            ident = sql.Identifier(*main_table.split("."))
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone()
            rows = count[0] if count else 0
            if asset.kind == "table":
                query = sql.SQL(OUTSTANDING_REJECTS).format(table=ident)
                found = conn.execute(query, {"asset": name}).fetchone()
                outstanding = found[0] if found else 0
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
                "rejects": outstanding,
                "last_run_rejects": run.get("rejects"),
                "cursor_anomalies": run.get("cursor_anomalies"),
                "drift": new_in_run.get((name, str(run.get("run_id"))), 0),
                "rows_deleted": run.get("rows_deleted"),
                "watermark": cursor_value.isoformat(timespec="seconds") if cursor_value else None,
                "error": run.get("error"),
                "refresh_pending": name in pending,
            }
        )
    return out


LATEST_PER_DOCUMENT = """
SELECT DISTINCT ON (asset, coalesce(source_id, id::text))
    id, run_id, asset, collection, source_id, reasons, document, rejected_at
FROM etl.rejects WHERE %(asset)s::text IS NULL OR asset = %(asset)s
ORDER BY asset, coalesce(source_id, id::text), rejected_at DESC, id DESC
"""


def latest_rejects(
    conn: psycopg.Connection, asset: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """One row per rejected document (of one asset, or all): its latest reject, with every
    reason and the raw document; newest first. A document rejected by several runs (a full
    refresh re-reads it) is listed once."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT * FROM ({LATEST_PER_DOCUMENT}) latest "
            "ORDER BY rejected_at DESC, id DESC LIMIT %(limit)s",
            {"asset": asset, "limit": limit},
        ).fetchall()


def reject_totals(conn: psycopg.Connection, asset: str | None = None) -> tuple[int, int]:
    """(rejected documents, reject records over all runs) of one asset, or of all."""
    row = conn.execute(
        f"SELECT (SELECT count(*) FROM ({LATEST_PER_DOCUMENT}) latest), "
        "(SELECT count(*) FROM etl.rejects WHERE %(asset)s::text IS NULL OR asset = %(asset)s)",
        {"asset": asset},
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
