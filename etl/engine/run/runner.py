"""Materialising a selection: order, locks, run records, failure isolation, table loading.

`materialize()` is the one entry point the CLI, the Airflow tasks and the tests all call
(usually as `Definitions.materialize`, which passes the project's graph).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pymongo.errors import ConnectionFailure, PyMongoError

from etl.engine.bookkeeping.records import (
    acquire_asset_lock,
    clear_refresh,
    database_now,
    pending_refresh,
    record_end,
    record_skipped,
    record_start,
    release_asset_lock,
    request_refreshes,
)
from etl.engine.declare.assets import Asset, IngestAsset, SqlAsset, TableAsset
from etl.engine.declare.context import RunContext
from etl.engine.declare.graph import AssetGraph
from etl.engine.marts.build import rebuild
from etl.engine.run.table_asset import open_or_plan_snapshot, run_table_asset
from etl.engine.snapshots import snapshot as snapshots
from etl.engine.snapshots.snapshot import Snapshot
from etl.engine.values.results import AssetResult, ProgressHook, no_progress
from etl.errors import ServiceUnavailable, UserFacingError, mask_url
from etl.migrations import require_current
from etl.services.mongo import describe
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


Materialiser = Callable[[Any, RunContext, AssetResult], AssetResult]
"""(asset, run context, the result to fill) -> the asset's result."""


def _ingest(asset: IngestAsset, ctx: RunContext, result: AssetResult) -> AssetResult:
    return asset.run(ctx)


def _mart(asset: SqlAsset, ctx: RunContext, result: AssetResult) -> AssetResult:
    return rebuild(asset, ctx)


MATERIALISERS: dict[type[Asset], Materialiser] = {
    TableAsset: run_table_asset,
    SqlAsset: _mart,
    IngestAsset: _ingest,
}
"""The one table from asset kind to the function that materialises it: declarations describe,
this layer runs them (Dagster keeps its AssetSpec apart from its execution plan the same way)."""


def materialize(
    selection: str | None = None,
    *,
    graph: AssetGraph,
    full_refresh: bool = False,
    settings: Settings | None = None,
    run_id: str | None = None,
    progress: ProgressHook = no_progress,
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
    local processes (etl.engine.snapshots.snapshot); None: the settings, for assets declared
    `partitioned`. Raises only for a bad selection or unreachable services
    (`ServiceUnavailable`, before any work, or when PostgreSQL goes away mid-run).
    """
    names = graph.select(selection)
    ctx = run_context(
        graph, run_id, settings,
        full_refresh=full_refresh, progress=progress, document_source=document_source,
        document_source_ordered=document_source_ordered, partitions=partitions,
        workers=workers, range_source=range_source,
    )  # fmt: skip
    if (
        document_source is None
        and range_source is None
        and any(graph.assets[n].sources for n in names)
    ):
        ctx.mongo  # noqa: B018  (connect now: an unreachable MongoDB fails before any work)
    outcomes: dict[str, AssetOutcome] = {}
    with naming_lost_postgres(ctx), pg_connect(ctx.postgres_url, autocommit=True) as records:
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
    return RunSummary(ctx.run_id, [outcomes[n] for n in names])


def plan_snapshot(
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
    each range as its own task (dags/tasks.py). Holds the asset's lock while planning."""
    asset = _table_asset(graph, name)
    ctx = run_context(graph, run_id, settings, full_refresh=full_refresh, partitions=partitions)
    with naming_lost_postgres(ctx), pg_connect(ctx.postgres_url, autocommit=True) as records:
        require_current(records, ctx.postgres_url)
        acquire_asset_lock(records, name, ctx.settings.lock_timeout)
        try:
            return open_or_plan_snapshot(asset, ctx)
        finally:
            release_asset_lock(records, name)


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
    ctx = run_context(graph, snapshot_id, settings)
    with naming_lost_postgres(ctx):
        return snapshots.load_snapshot_range(asset, ctx, snapshot_id, index)


def run_context(
    graph: AssetGraph, run_id: str | None, settings: Settings | None, **options: Any
) -> RunContext:
    """The one place a run's context is set up (a selection's run, a plan, a range load)."""
    return RunContext(
        run_id=run_id or new_run_id(),
        settings=settings or get_settings(),
        upstream=graph.upstream,
        **options,
    )


@contextmanager
def naming_lost_postgres(ctx: RunContext) -> Iterator[None]:
    """PostgreSQL going away mid-run becomes one line naming it (`lost_postgres`)."""
    try:
        yield
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
        result = AssetResult()  # filled as the work commits: a failure keeps what was done
        try:
            result = MATERIALISERS[type(asset)](asset, this_asset, result)
        except Exception as exc:
            if _connection_lost(exc, records):
                raise lost_postgres(ctx.postgres_url, exc) from None
            log.debug("asset %s failed", asset.name, exc_info=True)
            partial = result
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
