"""Partitioned snapshots: a first load or full refresh split into `_id` ranges, loaded apart.

Three steps, which may run in one process (`python -m etl materialize --partitions K`), in N local
processes (`--workers N`, etl.engine.snapshots.workers) or in separate Airflow tasks (a plan task,
one mapped task per range, a finishing task):

1. `plan_snapshot`: before anything is read, note the collection's highest cursor date (the
   watermark this snapshot will set), split the collection into K ranges
   (etl.engine.snapshots.mongo_ranges) and record them in `etl.snapshots` / `etl.snapshot_ranges`.
   An
   unfinished snapshot of the asset is resumed instead: its finished ranges are not redone,
   its failed ones are tried again.
2. `load_snapshot_range`: the range's advisory lock (one loader per range, wherever it runs),
   then the documents of the range in `_id` order through the same loader as any load; each
   batch's rows and the range's checkpoint (the last `_id` loaded) commit together, so a
   killed worker's range resumes after its checkpoint. The asset's watermark is not touched.
3. `finish_snapshot`: once every range is done, settle business-key clashes (a first load,
   etl.engine.snapshots.clashes) or remove rows whose document is gone (a full refresh: an `_id`
   scan
   now, so deletes during the snapshot count too), set the watermark noted in step 1 and close
   the snapshot, in one transaction. As after one reader's first load, documents deleted while
   a first load's ranges were read go at the next run's deletes scan. A document changed
   while the ranges were read has a cursor after that mark, so the next incremental run reads
   it again (an unchanged one costs a hash lookup).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from bson import json_util
from psycopg import sql
from psycopg.types.json import Jsonb

from etl.engine.bookkeeping.records import load_watermark, save_watermark
from etl.engine.declare.assets import TableAsset
from etl.engine.declare.context import RunContext
from etl.engine.load.batches import fewer_gc_pauses, write_batches
from etl.engine.load.loader import TableLoader
from etl.engine.load.reading import run_bound
from etl.engine.snapshots.clashes import settle_clashes
from etl.engine.snapshots.mongo_ranges import ranges_of
from etl.engine.values.identity import source_key
from etl.engine.values.ranges import IdRange
from etl.engine.values.results import AssetResult
from etl.engine.values.watermark import Watermark
from etl.errors import UserFacingError
from etl.services.postgres import pg_connect

log = logging.getLogger(__name__)
CANONICAL = json_util.CANONICAL_JSON_OPTIONS
MAX_ATTEMPTS = 3
"""Times a range is started within one run before the run gives up on it (a range that kills
its worker every time must not be retried forever); the next run tries it again."""


class SnapshotIncomplete(UserFacingError):
    """Some ranges did not finish: the snapshot stays open and the next run resumes it."""


class RangeBusy(UserFacingError):
    """Another worker holds the range's lock."""


@dataclass
class RangeState:
    id_range: IdRange
    status: str = "pending"
    checkpoint: tuple[Any] | None = None
    result: AssetResult = field(default_factory=AssetResult)
    attempts: int = 0
    worker: str | None = None
    error: str | None = None

    @property
    def index(self) -> int:
        return self.id_range.index


@dataclass
class Snapshot:
    snapshot_id: str
    asset: str
    collection: str
    run_id: str
    started_at: datetime
    """Naive UTC, like `run_bound`: cursor values after it are anomalies (the future)."""
    mark: Watermark | None
    """The watermark the snapshot sets when it finishes (see `plan_snapshot`)."""
    full_refresh: bool
    first_load: bool
    """The asset's tables were empty when it was planned (see etl.engine.snapshots.clashes)."""
    ranges: list[RangeState]

    @property
    def remaining(self) -> list[RangeState]:
        return [r for r in self.ranges if r.status != "done"]

    def totals(self) -> AssetResult:
        total = AssetResult()
        for r in (r.result for r in self.ranges):
            total.add_counts(
                r.documents_read, r.documents_unchanged, r.rejects, r.cursor_anomalies,
                r.rows_written,
            )  # fmt: skip
        return total

    def describe(self) -> str:
        done = len(self.ranges) - len(self.remaining)
        return f"snapshot {self.snapshot_id} ({done}/{len(self.ranges)} ranges done)"


# -- records ---------------------------------------------------------------------------------


def _to_json(value: Any) -> dict[str, Any]:
    """A BSON value as canonical extended JSON (keeps its type: ObjectId, int, string...)."""
    loaded: dict[str, Any] = json.loads(json_util.dumps({"v": value}, json_options=CANONICAL))
    return loaded


def _from_json(stored: dict[str, Any] | None) -> Any:
    return None if stored is None else json_util.loads(json.dumps(stored))["v"]


def current_snapshot(conn: psycopg.Connection, asset: str) -> Snapshot | None:
    """The asset's open snapshot with the state of its ranges, or None."""
    head = conn.execute(
        "SELECT snapshot_id, collection, run_id, started_at, cursor_bound, cursor_last_id, "
        "full_refresh, first_load "
        "FROM etl.snapshots WHERE asset = %s AND status = 'open'",
        [asset],
    ).fetchone()
    if head is None:
        return None
    snapshot_id, collection, run_id, started, bound, last_id, full_refresh, first = head
    records = conn.execute(
        "SELECT index, lower, upper, expected, status, checkpoint, documents_read, "
        "documents_unchanged, rows_written, rejects, cursor_anomalies, attempts, worker, error "
        "FROM etl.snapshot_ranges WHERE snapshot_id = %s ORDER BY index",
        [snapshot_id],
    ).fetchall()
    ranges = []
    for (
        index,
        lo,
        hi,
        expected,
        status,
        cp,
        read,
        unchanged,
        rows,
        rej,
        anom,
        att,
        wk,
        err,
    ) in records:
        id_range = IdRange(index, _from_json(lo), _from_json(hi), expected)
        result = AssetResult(read, unchanged, dict(rows), rejects=rej, cursor_anomalies=anom)
        checkpoint = None if cp is None else (_from_json(cp),)
        ranges.append(RangeState(id_range, status, checkpoint, result, att, wk, err))
    naive_start = started.astimezone(UTC).replace(tzinfo=None)  # as run_bound gives it
    mark = None if bound is None else Watermark(bound, _from_json(last_id))
    return Snapshot(
        snapshot_id, asset, collection, run_id, naive_start, mark, full_refresh, first, ranges
    )


def plan_snapshot(asset: TableAsset, ctx: RunContext, partitions: int) -> Snapshot:
    """Resume the asset's open snapshot, or split its collection into `partitions` ranges."""
    with pg_connect(ctx.postgres_url) as conn:
        existing = current_snapshot(conn, asset.name)
        if existing is not None:  # failed ranges get another chance; done ones are kept
            conn.execute(
                "UPDATE etl.snapshot_ranges SET status = 'pending', attempts = 0, error = NULL "
                "WHERE snapshot_id = %s AND status <> 'done'",
                [existing.snapshot_id],
            )
            conn.commit()
            return current_snapshot(conn, asset.name) or existing
        # Before anything is read: the last (cursor, _id) now in the collection is the
        # watermark this snapshot sets, so the next incremental run reads every document
        # written from then on (the ones changed while ranges were read, among them). The
        # collection's own dates, not this machine's clock: a writer whose clock runs behind
        # ours is not missed, and it is the watermark a single reader would have reached.
        started = run_bound()
        high = ranges_of(ctx).high_water(asset.source, asset.cursor, started)
        ranges = ranges_of(ctx).split(asset.source, partitions)
        parent = sql.Identifier(*asset.tables[0].split("."))
        empty = conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(parent)
        ).fetchone()
        snapshot_id = f"{ctx.run_id}:{asset.name}"
        conn.execute(
            "INSERT INTO etl.snapshots (snapshot_id, asset, collection, run_id, status, "
            "full_refresh, first_load, cursor_bound, cursor_last_id, partitions, started_at) "
            "VALUES (%s, %s, %s, %s, 'open', %s, %s, %s, %s, %s, %s)",
            [snapshot_id, asset.name, asset.source, ctx.run_id, ctx.full_refresh,
             bool(empty and empty[0]),
             _aware(high.cursor_value) if high else None,
             _json_or_none(high.last_id) if high else None, len(ranges), _aware(started)],
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO etl.snapshot_ranges (snapshot_id, index, lower, upper, expected, "
                "status, documents_read, documents_unchanged, rows_written, rejects, "
                "cursor_anomalies, attempts) "
                "VALUES (%s, %s, %s, %s, %s, 'pending', 0, 0, '{}', 0, 0, 0)",
                [
                    (snapshot_id, r.index, _json_or_none(r.lower), _json_or_none(r.upper),
                     r.expected)
                    for r in ranges
                ],
            )  # fmt: skip
        conn.commit()
        log.info("%s: planned %d ranges of %s", asset.name, len(ranges), asset.source)
        planned = current_snapshot(conn, asset.name)
        assert planned is not None
        return planned


def _aware(moment: datetime | None) -> datetime | None:
    """A naive UTC datetime (MongoDB's) as an aware one, for timestamptz columns."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _json_or_none(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(_to_json(value))


def _range_lock(snapshot_id: str, index: int) -> str:
    return f"etl.range:{snapshot_id}:{index}"


def try_claim(control: psycopg.Connection, snapshot_id: str, index: int) -> bool:
    """Take range `index`'s lock on `control` (autocommit; held until released or the process
    dies) if it is free and the range still needs loading."""
    got = control.execute(
        "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [_range_lock(snapshot_id, index)]
    ).fetchone()
    if not (got and got[0]):
        return False
    row = control.execute(
        "UPDATE etl.snapshot_ranges SET status = 'running', attempts = attempts + 1, "
        "worker = %s, error = NULL, updated_at = now() "
        "WHERE snapshot_id = %s AND index = %s AND status <> 'done' AND attempts < %s "
        "RETURNING index",
        [worker_name(), snapshot_id, index, MAX_ATTEMPTS],
    ).fetchone()
    if row is None:
        release(control, snapshot_id, index)
        return False
    return True


def release(control: psycopg.Connection, snapshot_id: str, index: int) -> None:
    control.execute(
        "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_range_lock(snapshot_id, index)]
    )


def claim_next(control: psycopg.Connection, snapshot_id: str) -> int | None:
    """Claim the first range no live worker holds that still needs loading (a range whose
    worker died is claimable again: its lock went with the worker's connection)."""
    rows = control.execute(
        "SELECT index FROM etl.snapshot_ranges WHERE snapshot_id = %s AND status <> 'done' "
        "AND status <> 'failed' AND attempts < %s ORDER BY index",
        [snapshot_id, MAX_ATTEMPTS],
    ).fetchall()
    for (index,) in rows:
        if try_claim(control, snapshot_id, index):
            return int(index)
    return None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- loading one range ------------------------------------------------------------------------


def load_snapshot_range(
    asset: TableAsset, ctx: RunContext, snapshot_id: str, index: int
) -> AssetResult:
    """Load one range of an open snapshot (an Airflow mapped task calls this); raises
    `RangeBusy` if another worker holds it. Returns the range's totals so far."""
    with pg_connect(ctx.postgres_url, autocommit=True) as control:
        if not try_claim(control, snapshot_id, index):
            row = control.execute(
                "SELECT status FROM etl.snapshots WHERE snapshot_id = %s", [snapshot_id]
            ).fetchone()
            if row is not None and row[0] == "finished":  # another run finished it meanwhile
                log.info("%s: %s is finished already; nothing to load", asset.name, snapshot_id)
                return AssetResult()
            state = _open(control, asset.name, snapshot_id).ranges[index]
            if state.status == "done":
                return state.result
            raise RangeBusy(
                f"range {index} of {snapshot_id} is being loaded by {state.worker or 'a worker'}"
                f" (or was tried {MAX_ATTEMPTS} times in this run)"
            )
        try:
            return load_claimed(asset, ctx, control, snapshot_id, index)
        finally:
            release(control, snapshot_id, index)


def _open(conn: psycopg.Connection, asset: str, snapshot_id: str) -> Snapshot:
    """Snapshot `snapshot_id`, which must be the asset's open one."""
    snapshot = current_snapshot(conn, asset)
    if snapshot is None or snapshot.snapshot_id != snapshot_id:
        raise SnapshotIncomplete(f"{snapshot_id} is not the open snapshot of asset {asset!r}")
    return snapshot


def load_claimed(
    asset: TableAsset,
    ctx: RunContext,
    control: psycopg.Connection,
    snapshot_id: str,
    index: int,
    on_batch: Any = None,
) -> AssetResult:
    """Load a range whose lock `control` holds, from its checkpoint on; a failure is recorded
    on the range (status `failed`, the error) and re-raised."""
    snapshot = _open(control, asset.name, snapshot_id)
    state = snapshot.ranges[index]
    result = state.result
    url = ctx.postgres_url
    try:
        with (
            fewer_gc_pauses(),
            pg_connect(url) as conn,
            pg_connect(url, autocommit=True) as lookup,
        ):
            loader = TableLoader(
                asset,
                conn,
                snapshot.run_id,
                cursor_bound=snapshot.started_at,
                track_fields=ctx.settings.field_inventory,
            )
            docs = ranges_of(ctx).read(asset.source, state.id_range, state.checkpoint)
            for batch in write_batches(
                loader,
                docs,
                batch_size=ctx.settings.batch_size,
                lookup=lookup,
                collection=asset.source,
            ):
                batch.add_to(result)
                last = next((d["_id"] for d in reversed(batch.raws) if "_id" in d), None)
                _save_progress(conn, snapshot_id, index, result, last, "running")
                conn.commit()
                if on_batch is not None:
                    on_batch(result.documents_read)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, UserFacingError) else f"{type(exc).__name__}: {exc}"
        control.execute(
            "UPDATE etl.snapshot_ranges SET status = 'failed', error = %s, updated_at = now() "
            "WHERE snapshot_id = %s AND index = %s",
            [message, snapshot_id, index],
        )
        raise
    control.execute(
        "UPDATE etl.snapshot_ranges SET status = 'done', updated_at = now() "
        "WHERE snapshot_id = %s AND index = %s",
        [snapshot_id, index],
    )
    return result


def _save_progress(
    conn: psycopg.Connection,
    snapshot_id: str,
    index: int,
    result: AssetResult,
    last_id: Any,
    status: str,
) -> None:
    """The range's totals and checkpoint, in the batch's transaction (with its rows)."""
    conn.execute(
        "UPDATE etl.snapshot_ranges SET status = %s, "
        "checkpoint = COALESCE(%s, checkpoint), documents_read = %s, documents_unchanged = %s, "
        "rows_written = %s, rejects = %s, cursor_anomalies = %s, updated_at = now() "
        "WHERE snapshot_id = %s AND index = %s",
        [
            status,
            None if last_id is None else Jsonb(_to_json(last_id)),
            result.documents_read,
            result.documents_unchanged,
            Jsonb(result.rows_written),
            result.rejects,
            result.cursor_anomalies,
            snapshot_id,
            index,
        ],
    )


# -- finishing --------------------------------------------------------------------------------


def finish_snapshot(asset: TableAsset, ctx: RunContext, snapshot: Snapshot) -> AssetResult:
    """Deletes, watermark, closed: in one transaction, once every range is done."""
    if snapshot.remaining:
        raise SnapshotIncomplete(_incomplete(asset, snapshot))
    result = snapshot.totals()
    url = ctx.postgres_url
    with pg_connect(url) as conn, pg_connect(url, autocommit=True) as lookup:
        before = load_watermark(conn, asset.name, asset.source)
        result.watermark_before = before.to_json() if before else None
        loader = TableLoader(
            asset, conn, snapshot.run_id, cursor_bound=snapshot.started_at, track_fields=False
        )
        if snapshot.first_load:
            # as after a single reader's first load: documents deleted while the ranges were
            # read are removed by the next run's deletes scan, clashes settled as it would
            settle_clashes(loader, ranges_of(ctx), snapshot.run_id, lookup, result)
        else:  # rows of documents gone since the tables were loaded, or during the snapshot
            loader.start_presence()
            loader.remember_present(source_key(i) for i in ranges_of(ctx).ids(asset.source))
            result.rows_deleted = loader.delete_absent()
        if snapshot.mark is not None:  # None: no document had a date, every run reads all
            save_watermark(conn, asset.name, asset.source, snapshot.mark, ctx.run_id)
        conn.execute(
            "UPDATE etl.snapshots SET status = 'finished', finished_at = now() "
            "WHERE snapshot_id = %s",
            [snapshot.snapshot_id],
        )
        conn.commit()
    result.watermark_after = snapshot.mark.to_json() if snapshot.mark else None
    result.note = f"partitioned snapshot: {len(snapshot.ranges)} ranges"
    return result


def _incomplete(asset: TableAsset, snapshot: Snapshot) -> str:
    """The first range's error first (what the user must fix), then where the snapshot stands."""
    failed = [r for r in snapshot.remaining if r.status == "failed" and r.error]
    where = f"{snapshot.describe()} of {asset.name!r} is not finished"
    resume = "the next run of the asset resumes it (finished ranges are kept)"
    if failed:
        others = f", {len(failed) - 1} more range(s) failed" if len(failed) > 1 else ""
        return f"{failed[0].error} (range {failed[0].index}{others}; {where}; {resume})"
    return f"{where}: ranges still held by other workers; {resume}"
