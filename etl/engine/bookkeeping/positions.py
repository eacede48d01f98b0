"""Where each streamed asset stands in its collection's change stream (`etl.stream_positions`).

The resume token is written in the same transaction as the rows and rejects of the events up
to it (etl.engine.run.stream), so after a crash the stream resumes exactly after what was
committed. The row also holds what `status` and the live display show: state, lag, events,
how often a lost position was healed and the last error. A stream is *live* while the backend
that recorded it holds the asset's advisory lock (the same test as a live run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

LIVE = """EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.pid = p.backend_pid
      AND ((l.classid::bigint << 32) | l.objid::bigint)
          = hashtextextended('etl.asset:' || p.asset, 0))"""
"""A position (aliased p) whose stream still runs: its backend holds the asset's lock."""


@dataclass(frozen=True)
class StreamPosition:
    asset: str
    collection: str
    resume_token: dict[str, Any] | None
    state: str
    run_id: str
    events: int
    heals: int
    lag_seconds: float | None
    last_event_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    last_heal_at: datetime | None
    last_error: str | None
    live: bool = False


def load_position(conn: psycopg.Connection, asset: str) -> StreamPosition | None:
    found = positions(conn, asset)
    return found[0] if found else None


def positions(conn: psycopg.Connection, asset: str | None = None) -> list[StreamPosition]:
    """Every streamed asset's position (or one asset's), with whether its stream is live."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT asset, collection, resume_token, state, run_id, events, heals, lag_seconds,"
            f" last_event_at, updated_at, started_at, last_heal_at, last_error, {LIVE} AS live"
            " FROM etl.stream_positions p WHERE %(asset)s::text IS NULL OR asset = %(asset)s"
            " ORDER BY asset",
            {"asset": asset},
        ).fetchall()
    return [StreamPosition(**row) for row in rows]


def live_streams(conn: psycopg.Connection) -> set[str]:
    """The assets a running stream holds (a batch run leaves them to it)."""
    rows = conn.execute(f"SELECT asset FROM etl.stream_positions p WHERE {LIVE}").fetchall()
    return {asset for (asset,) in rows}


def start_position(
    conn: psycopg.Connection, asset: str, collection: str, run_id: str, state: str
) -> None:
    """Mark the asset's stream started by this backend (events counted from zero)."""
    conn.execute(
        """
        INSERT INTO etl.stream_positions AS p (asset, collection, state, run_id, events, heals,
            started_at, updated_at, backend_pid)
        VALUES (%(asset)s, %(collection)s, %(state)s, %(run)s, 0, 0, now(), now(),
            pg_backend_pid())
        ON CONFLICT (asset) DO UPDATE SET collection = EXCLUDED.collection,
            state = EXCLUDED.state, run_id = EXCLUDED.run_id, events = 0,
            started_at = now(), updated_at = now(), backend_pid = EXCLUDED.backend_pid,
            last_error = NULL
        """,
        {"asset": asset, "collection": collection, "state": state, "run": run_id},
    )


def save_position(
    conn: psycopg.Connection,
    asset: str,
    token: dict[str, Any] | None,
    *,
    events: int = 0,
    last_event_at: datetime | None = None,
    lag_seconds: float | None = None,
    state: str | None = None,
) -> None:
    """Move the asset's resume token (in the caller's transaction: with the rows it covers)."""
    conn.execute(
        """
        UPDATE etl.stream_positions SET resume_token = %(token)s, updated_at = now(),
            events = events + %(events)s,
            last_event_at = coalesce(%(event_at)s, last_event_at),
            lag_seconds = coalesce(%(lag)s, lag_seconds),
            state = coalesce(%(state)s, state)
        WHERE asset = %(asset)s
        """,
        {"asset": asset, "token": Jsonb(token) if token is not None else None, "events": events,
         "event_at": last_event_at, "lag": lag_seconds, "state": state},
    )  # fmt: skip


def record_state(
    conn: psycopg.Connection,
    asset: str,
    state: str,
    error: str | None = None,
    *,
    heal: bool = False,
) -> None:
    """A new state (and the error that caused it); `heal`: a lost position is being healed."""
    conn.execute(
        "UPDATE etl.stream_positions SET state = %s, last_error = coalesce(%s, last_error),"
        " updated_at = now(), heals = heals + %s,"
        " last_heal_at = CASE WHEN %s THEN now() ELSE last_heal_at END WHERE asset = %s",
        [state, error, int(heal), heal, asset],
    )
