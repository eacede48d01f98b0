"""Materialising a table asset: resume or plan a partitioned snapshot, or load in one process."""

from __future__ import annotations

from etl.engine.bookkeeping.records import load_watermark
from etl.engine.declare.assets import TableAsset
from etl.engine.declare.context import RunContext
from etl.engine.load.incremental import load_in_process
from etl.engine.snapshots.snapshot import Snapshot, current_snapshot, finish_snapshot, plan_snapshot
from etl.engine.snapshots.workers import load_ranges
from etl.engine.values.results import AssetResult
from etl.services.postgres import pg_connect


def run_table_asset(asset: TableAsset, ctx: RunContext, result: AssetResult) -> AssetResult:
    """An open partitioned snapshot of the asset is resumed and finished; a snapshot that needs
    doing (first load, full refresh) is partitioned when the asset or the run asks for ranges
    (etl.engine.snapshots.snapshot); everything else is one reader in this process
    (`load_in_process`)."""
    snapshot = open_or_plan_snapshot(asset, ctx)
    if snapshot is None:
        return load_in_process(asset, ctx, result)
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
