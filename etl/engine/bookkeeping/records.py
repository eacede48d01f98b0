"""The engine's bookkeeping in PostgreSQL: watermarks, run records and the per-asset lock."""

from __future__ import annotations

import json
import time
from datetime import datetime

import psycopg
from bson import json_util
from psycopg.types.json import Jsonb

from etl.engine.values.results import AssetResult
from etl.engine.values.watermark import Watermark
from etl.errors import UserFacingError

CANONICAL = json_util.CANONICAL_JSON_OPTIONS


def load_watermark(conn: psycopg.Connection, asset: str, collection: str) -> Watermark | None:
    row = conn.execute(
        "SELECT cursor_value, last_id FROM etl.watermarks WHERE asset = %s AND collection = %s",
        [asset, collection],
    ).fetchone()
    if row is None:
        return None
    last_id = json_util.loads(json.dumps(row[1]))["v"] if row[1] is not None else None
    return Watermark(row[0], last_id)


def save_watermark(
    conn: psycopg.Connection, asset: str, collection: str, mark: Watermark, run_id: str
) -> None:
    """Part of the batch's transaction: committed with the rows it covers, or not at all."""
    # canonical extended JSON keeps the _id's BSON type (ObjectId, int, string...)
    last_id = json.loads(json_util.dumps({"v": mark.last_id}, json_options=CANONICAL))
    conn.execute(
        """
        INSERT INTO etl.watermarks (asset, collection, cursor_value, last_id, run_id, updated_at)
        VALUES (%s, %s, %s, %s, %s, now())
        ON CONFLICT (asset, collection) DO UPDATE SET cursor_value = EXCLUDED.cursor_value,
            last_id = EXCLUDED.last_id, run_id = EXCLUDED.run_id, updated_at = now()
        """,
        [asset, collection, mark.cursor_value, Jsonb(last_id), run_id],
    )


def record_start(conn: psycopg.Connection, run_id: str, asset: str, full_refresh: bool) -> None:
    """Record a run as `running`, held by this connection's backend (which holds the lock).

    Called with the asset's lock held, so any other `running` record of the asset belongs to a
    process that died: it is marked `interrupted` first.
    """
    conn.execute(
        "UPDATE etl.asset_runs SET status = 'interrupted', finished_at = now(), error = %s "
        "WHERE asset = %s AND status = 'running' AND run_id <> %s",
        [INTERRUPTED, asset, run_id],
    )
    conn.execute(
        """
        INSERT INTO etl.asset_runs (run_id, asset, status, full_refresh, started_at,
            documents_read, documents_unchanged, rows_written, rows_deleted, rejects, backend_pid)
        VALUES (%s, %s, 'running', %s, now(), 0, 0, '{}', 0, 0, pg_backend_pid())
        ON CONFLICT (run_id, asset) DO UPDATE SET status = 'running', started_at = now(),
            finished_at = NULL, error = NULL, backend_pid = pg_backend_pid()
        """,
        [run_id, asset, full_refresh],
    )


INTERRUPTED = "the process running it stopped before it finished (killed, or lost PostgreSQL)"
_LOCK_HOLDER = """
    SELECT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted
      AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0)
"""


DEAD_RUN = """r.status = 'running' AND NOT EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted
      AND (r.backend_pid IS NULL OR l.pid = r.backend_pid)
      AND ((l.classid::bigint << 32) | l.objid::bigint)
          = hashtextextended('etl.asset:' || r.asset, 0))"""
"""A `running` record (aliased r) whose backend no longer holds its asset's lock: a live run
holds the lock on the connection that recorded it; when the process dies, PostgreSQL ends that
backend and releases the lock."""


def mark_interrupted(conn: psycopg.Connection) -> int:
    """Mark dead `running` records (`DEAD_RUN`) `interrupted`; returns how many changed."""
    return conn.execute(
        "UPDATE etl.asset_runs r SET status = 'interrupted', finished_at = now(), error = %s "
        f"WHERE {DEAD_RUN}",
        [INTERRUPTED],
    ).rowcount


def record_end(
    conn: psycopg.Connection,
    run_id: str,
    asset: str,
    status: str,
    result: AssetResult | None,
    error: str | None = None,
) -> None:
    r = result or AssetResult()
    conn.execute(
        """
        UPDATE etl.asset_runs SET status = %s, finished_at = now(), documents_read = %s,
            documents_unchanged = %s, rows_written = %s, rows_deleted = %s, rejects = %s,
            cursor_anomalies = %s, watermark_before = %s, watermark_after = %s, error = %s,
            note = %s
        WHERE run_id = %s AND asset = %s
        """,
        [
            status,
            r.documents_read,
            r.documents_unchanged,
            Jsonb(r.rows_written),
            r.rows_deleted,
            r.rejects,
            r.cursor_anomalies,
            Jsonb(r.watermark_before) if r.watermark_before else None,
            Jsonb(r.watermark_after) if r.watermark_after else None,
            error,
            r.note or None,
            run_id,
            asset,
        ],
    )


def record_skipped(conn: psycopg.Connection, run_id: str, asset: str, reason: str) -> None:
    conn.execute(
        """
        INSERT INTO etl.asset_runs (run_id, asset, status, full_refresh, started_at,
            finished_at, error, documents_read, documents_unchanged, rows_written,
            rows_deleted, rejects)
        VALUES (%s, %s, 'skipped', false, now(), now(), %s, 0, 0, '{}', 0, 0)
        ON CONFLICT (run_id, asset) DO UPDATE SET status = 'skipped', error = EXCLUDED.error
        """,
        [run_id, asset, reason],
    )


class AssetLocked(UserFacingError):
    """Another run holds the asset's lock for longer than ETL_LOCK_TIMEOUT."""


def _lock_key(asset: str) -> str:
    return f"etl.asset:{asset}"


def acquire_asset_lock(conn: psycopg.Connection, asset: str, timeout: float) -> None:
    """Serialise runs of one asset (session-level advisory lock on `conn`, autocommit)."""
    deadline = time.monotonic() + timeout
    while True:
        got = conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [_lock_key(asset)]
        ).fetchone()
        if got and got[0]:
            return
        if time.monotonic() >= deadline:
            holder = conn.execute(_LOCK_HOLDER, [_lock_key(asset)]).fetchone()
            who = f" (PostgreSQL backend pid {holder[0]})" if holder else ""
            raise AssetLocked(
                f"asset {asset!r} is being materialised by another run{who}; gave up after "
                f"{timeout:g} s (set ETL_LOCK_TIMEOUT to wait longer)"
            )
        time.sleep(0.2)


def release_asset_lock(conn: psycopg.Connection, asset: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_lock_key(asset)])


# -- full refreshes asked for and not finished (etl.refresh_requests) ------------------------


def request_refreshes(conn: psycopg.Connection, run_id: str, assets: list[str]) -> None:
    """Note that run `run_id` asked for a full refresh of `assets` (before any of them runs)."""
    conn.execute(
        "INSERT INTO etl.refresh_requests (asset, run_id, requested_at) "
        "SELECT a, %s, clock_timestamp() FROM unnest(%s::text[]) a "
        "ON CONFLICT (asset) DO UPDATE SET run_id = excluded.run_id, "
        "requested_at = excluded.requested_at",
        [run_id, assets],
    )


def pending_refresh(conn: psycopg.Connection, asset: str) -> str | None:
    """The run whose full refresh of `asset` has not finished, if any."""
    row = conn.execute(
        "SELECT run_id FROM etl.refresh_requests WHERE asset = %s", [asset]
    ).fetchone()
    return str(row[0]) if row else None


def clear_refresh(conn: psycopg.Connection, asset: str, started: datetime) -> None:
    """The refresh of `asset` that began at `started` succeeded: requests made before it are
    done (a request made while it ran stays for the next run)."""
    conn.execute(
        "DELETE FROM etl.refresh_requests WHERE asset = %s AND requested_at <= %s",
        [asset, started],
    )


def database_now(conn: psycopg.Connection) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]
