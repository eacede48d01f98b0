"""Materialising a selection: order, locks, run records, failure isolation, table loading.

`materialize()` is the one entry point the CLI, the Airflow tasks and the tests all call
(usually as `Definitions.materialize`, which passes the project's graph).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from pymongo.errors import ConnectionFailure, PyMongoError

from etl.engine.batches import fewer_gc_pauses, write_batches
from etl.engine.coerce import CoercionError, to_datetime
from etl.engine.context import AssetResult, ProgressHook, RunContext, _no_progress
from etl.engine.graph import AssetGraph
from etl.engine.identity import source_key
from etl.engine.loader import TableLoader
from etl.engine.raw import SourceDocument
from etl.engine.reading import is_anomaly, present_source_ids, read_changed, run_bound
from etl.engine.snapshot import (
    Snapshot,
    current_snapshot,
    finish_snapshot,
    load_range,
    plan_snapshot,
)
from etl.engine.spec import Asset, TableAsset
from etl.engine.state import (
    Watermark,
    acquire_asset_lock,
    clear_refresh,
    database_now,
    load_watermark,
    pending_refresh,
    record_end,
    record_skipped,
    record_start,
    release_asset_lock,
    request_refreshes,
    save_watermark,
)
from etl.engine.workers import load_ranges
from etl.errors import ServiceUnavailable, UserFacingError, mask_url
from etl.migrations import require_current
from etl.services.mongo import describe, raw_collection, read_collection
from etl.services.postgres import pg_connect
from etl.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class AssetOutcome:
    name: str
    status: str  # success | failed | skipped
    result: AssetResult = field(default_factory=AssetResult)
    seconds: float = 0.0
    error: str | None = None

    @property
    def docs_per_second(self) -> float:
        return self.result.documents_read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunSummary:
    run_id: str
    outcomes: list[AssetOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status == "success" for o in self.outcomes)

    def __getitem__(self, name: str) -> AssetOutcome:
        return next(o for o in self.outcomes if o.name == name)


def materialize(
    selection: str | None = None,
    *,
    graph: AssetGraph,
    full_refresh: bool = False,
    settings: Settings | None = None,
    run_id: str | None = None,
    progress: ProgressHook = _no_progress,
    document_source: Any = None,
    document_source_ordered: bool = False,
    partitions: int | None = None,
    workers: int | None = None,
    range_source: Any = None,
) -> RunSummary:
    """Run the selected assets in topological order.

    A failing asset marks its downstream assets (in the selection) skipped, with the reason;
    unrelated assets still run. `partitions` / `workers`: split snapshots (first loads, full
    refreshes) of the selected table assets into that many `_id` ranges, loaded by that many
    local processes (etl.engine.snapshot); None: the settings, for assets declared
    `partitioned`. Raises only for a bad selection or unreachable services
    (`ServiceUnavailable`, before any work, or when PostgreSQL goes away mid-run).
    """
    names = graph.select(selection)
    ctx = RunContext(
        run_id=run_id or new_run_id(),
        full_refresh=full_refresh,
        settings=settings or get_settings(),
        progress=progress,
        document_source=document_source,
        document_source_ordered=document_source_ordered,
        graph=graph,
        partitions=partitions,
        workers=workers,
        range_source=range_source,
    )
    if (
        document_source is None
        and range_source is None
        and any(graph.assets[n].sources for n in names)
    ):
        ctx.mongo  # noqa: B018  (connect now: an unreachable MongoDB fails before any work)
    outcomes: dict[str, AssetOutcome] = {}
    try:
        with pg_connect(ctx.postgres_url, autocommit=True) as records:
            require_current(records, ctx.postgres_url)
            if full_refresh:  # remembered until each asset's refresh succeeds
                tables = [n for n in names if isinstance(graph.assets[n], TableAsset)]
                request_refreshes(records, ctx.run_id, tables)
            for name in names:
                blocked = sorted(
                    up
                    for up in graph.ancestors(name)
                    if up in outcomes and outcomes[up].status != "success"
                )
                if blocked:
                    reason = f"upstream {', '.join(blocked)} did not succeed"
                    record_skipped(records, ctx.run_id, name, reason)
                    outcomes[name] = AssetOutcome(name, "skipped", error=reason)
                    continue
                outcomes[name] = run_one(graph.assets[name], ctx, records)
    except psycopg.OperationalError as exc:  # the server went away mid-run
        raise lost_postgres(ctx.postgres_url, exc) from None
    return RunSummary(ctx.run_id, [outcomes[n] for n in names])


def plan_snapshot_ranges(
    name: str,
    *,
    graph: AssetGraph,
    full_refresh: bool = False,
    settings: Settings | None = None,
    run_id: str | None = None,
    partitions: int | None = None,
) -> Snapshot | None:
    """The snapshot a run of table asset `name` would load in ranges (resumed or planned now),
    or None when it is an ordinary incremental load: the plan step of an orchestrator that runs
    each range as its own task (dags/builder.py). Holds the asset's lock while planning."""
    asset = _table_asset(graph, name)
    ctx = RunContext(
        run_id=run_id or new_run_id(),
        full_refresh=full_refresh,
        settings=settings or get_settings(),
        graph=graph,
        partitions=partitions,
    )
    try:
        with pg_connect(ctx.postgres_url, autocommit=True) as records:
            require_current(records, ctx.postgres_url)
            acquire_asset_lock(records, name, ctx.settings.lock_timeout)
            try:
                return open_or_plan_snapshot(asset, ctx)
            finally:
                release_asset_lock(records, name)
    except psycopg.OperationalError as exc:
        raise lost_postgres(ctx.postgres_url, exc) from None


def load_snapshot_range(
    name: str,
    snapshot_id: str,
    index: int,
    *,
    graph: AssetGraph,
    settings: Settings | None = None,
) -> AssetResult:
    """Load one range of asset `name`'s open snapshot (one orchestrator task per range)."""
    asset = _table_asset(graph, name)
    ctx = RunContext(run_id=snapshot_id, settings=settings or get_settings(), graph=graph)
    try:
        return load_range(asset, ctx, snapshot_id, index)
    except psycopg.OperationalError as exc:
        raise lost_postgres(ctx.postgres_url, exc) from None


def _table_asset(graph: AssetGraph, name: str) -> TableAsset:
    asset = graph.assets[name]
    if not isinstance(asset, TableAsset):
        raise UserFacingError(f"asset {name!r} is not a table asset: it has no ranges")
    return asset


def lost_postgres(url: str, exc: BaseException) -> ServiceUnavailable:
    """One line for a server that went away mid-run (its URL masked)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ServiceUnavailable(f"lost the connection to PostgreSQL at {mask_url(url)}: {reason}")


def lost_mongo(url: str, exc: BaseException) -> ServiceUnavailable:
    """One line for a MongoDB server that went away mid-run (its URL masked; pymongo's
    topology description left out)."""
    return ServiceUnavailable(f"lost the connection to MongoDB at {mask_url(url)}: {describe(exc)}")


def _mongo_lost(exc: BaseException, asset: Asset, ctx: RunContext) -> bool:
    """Whether an asset's failure is MongoDB going away (then the whole run stops: every
    later asset would wait for server selection and fail the same way)."""
    if not isinstance(asset, TableAsset) or "mongo" not in ctx.__dict__:
        return False  # this run never reached MongoDB (documents fed in, or no source)
    if isinstance(exc, ConnectionFailure):
        return True
    try:  # a worker process saw it first: ask the server ourselves
        ctx.mongo.client.admin.command("ping")
    except PyMongoError:
        return True
    return False


def _connection_lost(exc: BaseException, records: psycopg.Connection) -> bool:
    """Whether an asset's failure is the server going away (then the whole run stops)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    try:
        records.execute("SELECT 1")
    except psycopg.Error:
        return True
    return False


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def run_one(asset: Asset, ctx: RunContext, records: psycopg.Connection) -> AssetOutcome:
    """Lock, record, materialise and record again; an exception becomes a failed outcome."""
    acquire_asset_lock(records, asset.name, ctx.settings.lock_timeout)
    started = time.perf_counter()
    try:
        since = database_now(records)
        asked_by = pending_refresh(records, asset.name) if isinstance(asset, TableAsset) else None
        this_asset = ctx
        if asked_by is not None and not ctx.full_refresh:
            log.warning("%s: finishing the full refresh asked for by run %s", asset.name, asked_by)
            this_asset = dataclasses.replace(ctx, full_refresh=True)
        record_start(records, ctx.run_id, asset.name, this_asset.full_refresh)
        try:
            result = asset.materialize(this_asset)
        except Exception as exc:
            if _connection_lost(exc, records):
                raise lost_postgres(ctx.postgres_url, exc) from None
            log.debug("asset %s failed", asset.name, exc_info=True)
            partial = getattr(exc, "result", None)
            if _mongo_lost(exc, asset, ctx):  # the run stops: this is the command's one line
                message = str(lost_mongo(ctx.mongo_uri, exc))
                record_end(records, ctx.run_id, asset.name, "failed", partial, message)
                raise ServiceUnavailable(message) from None
            message = (
                str(exc) if isinstance(exc, UserFacingError) else f"{type(exc).__name__}: {exc}"
            )
            record_end(records, ctx.run_id, asset.name, "failed", partial, message)
            log.error("asset %s failed: %s", asset.name, message)
            return AssetOutcome(
                asset.name, "failed", seconds=time.perf_counter() - started, error=message
            )
        if asked_by is not None and not result.note:
            result.note = f"finished the full refresh asked for by run {asked_by}"
        record_end(records, ctx.run_id, asset.name, "success", result)
        if asked_by is not None or ctx.full_refresh:
            clear_refresh(records, asset.name, since)
        return AssetOutcome(asset.name, "success", result, time.perf_counter() - started)
    finally:
        release_asset_lock(records, asset.name)


# -- table assets ----------------------------------------------------------------------------


def run_table_asset(asset: TableAsset, ctx: RunContext) -> AssetResult:
    """An open partitioned snapshot of the asset is resumed and finished; a snapshot that needs
    doing (first load, full refresh) is partitioned when the asset or the run asks for ranges
    (etl.engine.snapshot); everything else is one reader in this process (`load_in_process`)."""
    snapshot = open_or_plan_snapshot(asset, ctx)
    if snapshot is None:
        return load_in_process(asset, ctx)
    loaded = load_ranges(asset, ctx, snapshot, ctx.workers or ctx.settings.workers)
    return finish_snapshot(asset, ctx, loaded)


def partitions_for(asset: TableAsset, ctx: RunContext) -> int:
    """How many ranges a snapshot of `asset` is split into in this run."""
    if ctx.partitions is not None:
        return ctx.partitions
    return ctx.settings.partitions if asset.partitioned else 1


def open_or_plan_snapshot(asset: TableAsset, ctx: RunContext) -> Snapshot | None:
    """The asset's open snapshot (resumed, whatever this run asked), a new one when this run
    reads the whole collection and wants it in ranges, or None (load in one process)."""
    with pg_connect(ctx.postgres_url) as conn:
        if current_snapshot(conn, asset.name) is None:
            parts = partitions_for(asset, ctx)
            if parts <= 1:
                return None
            before = None if ctx.full_refresh else load_watermark(conn, asset.name, asset.source)
            if before is not None and before.cursor_value is not None:
                return None  # an incremental run: nothing to split
            if ctx.document_source is not None and ctx.range_source is None:
                return None  # documents fed in (tests, benchmarks) without ranges
    return plan_snapshot(asset, ctx, partitions_for(asset, ctx))


def load_in_process(asset: TableAsset, ctx: RunContext) -> AssetResult:
    """Read changed documents and load them batch by batch, one commit per batch.

    Each batch commits with the watermark it reached (etl.engine.batches). After the last batch,
    rows of documents deleted from the collection are removed (see `_deletions`), in the
    transaction that commits the final watermark.
    """
    result = AssetResult()
    collection = asset.source
    url = ctx.postgres_url
    bound = run_bound()
    with (
        fewer_gc_pauses(),
        pg_connect(url) as conn,
        pg_connect(url, autocommit=True) as lookup,
    ):
        try:
            before = None if ctx.full_refresh else load_watermark(conn, asset.name, collection)
            had_rows = _has_rows(conn, asset)
            conn.commit()
            result.watermark_before = before.to_json() if before else None
            reads_all = before is None or before.cursor_value is None
            if ctx.document_source is not None:
                docs, total = iter(ctx.document_source(collection)), None
            else:
                docs, total = read_changed(
                    raw_collection(ctx.mongo, collection), asset.cursor, before
                )
            # a read of everything notes which documents exist as it goes; otherwise an
            # `_id`-only scan afterwards does (deletes are noticed by every run)
            loader = TableLoader(
                asset,
                conn,
                ctx.run_id,
                track_seen=reads_all and had_rows,
                cursor_bound=bound,
                track_fields=ctx.settings.field_inventory,
                cursor_ordered=ctx.document_source is None or ctx.document_source_ordered,
            )
            mark = before
            ctx.progress(asset.name, 0, total)
            for batch in write_batches(
                loader, docs, batch_size=ctx.settings.batch_size, lookup=lookup,
                collection=collection,
            ):  # fmt: skip
                mark = _advance(mark, batch.raws, asset.cursor, bound)
                if mark is not None:
                    save_watermark(conn, asset.name, collection, mark, ctx.run_id)
                conn.commit()
                batch.add_to(result)
                ctx.progress(asset.name, result.documents_read, total)
            if had_rows and (reads_all or asset.detect_deletes):
                result.rows_deleted = _deletions(loader, ctx, collection, scanned=reads_all)
                conn.commit()
            result.watermark_after = mark.to_json() if mark else None
        except BaseException as exc:
            conn.rollback()
            exc.result = result  # type: ignore[attr-defined]  # what was committed before
            raise
    return result


def _has_rows(conn: psycopg.Connection, asset: TableAsset) -> bool:
    """Whether the asset's parent table holds anything (nothing to delete on a first load)."""
    table = sql.Identifier(*asset.tables[0].split("."))
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table)).fetchone()
    return bool(row and row[0])


def _deletions(loader: TableLoader, ctx: RunContext, collection: str, *, scanned: bool) -> int:
    """Delete rows whose document is gone; `scanned`: the read itself noted every `_id`."""
    if not scanned:
        loader.start_presence()
        if ctx.document_source is not None:
            ids: Iterable[str] = (source_key(d["_id"]) for d in ctx.document_source(collection))
        else:
            ids = present_source_ids(read_collection(ctx.mongo, collection))
        loader.remember_present(ids)
    return loader.delete_absent()


def _advance(
    mark: Watermark | None, batch: Sequence[SourceDocument], cursor: str, bound: datetime
) -> Watermark | None:
    """The watermark after a batch: its last document whose cursor can be a position.

    Only a real BSON date up to the run's start moves it: MongoDB sorts strings and nulls before
    dates, so a dirty cursor value (an ISO string, say) must not be compared with dates on the
    next run, and a date in the future would hide every document written before it. The batch
    is in (cursor, _id) order, so the last such document is the furthest position read.
    """
    for last in reversed(batch):
        value = last.get(cursor)
        if "_id" not in last or is_anomaly(value, bound):
            continue
        try:
            return Watermark(to_datetime(value), last["_id"])
        except CoercionError:  # outside the supported range (a clamped date): not a position
            continue
    return mark
