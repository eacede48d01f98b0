"""The incremental load of a table asset in one process: read what changed since the watermark,
load it batch by batch, then remove rows of deleted documents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from etl.engine.bookkeeping.records import load_watermark, save_watermark
from etl.engine.declare.assets import TableAsset
from etl.engine.declare.context import RunContext
from etl.engine.load.batches import fewer_gc_pauses, write_batches
from etl.engine.load.loader import TableLoader
from etl.engine.load.reading import is_anomaly, present_source_ids, read_changed, run_bound
from etl.engine.values.coerce import CoercionError, to_datetime
from etl.engine.values.identity import source_key
from etl.engine.values.raw import SourceDocument
from etl.engine.values.results import AssetResult
from etl.engine.values.watermark import Watermark
from etl.services.mongo import raw_collection, read_collection
from etl.services.postgres import pg_connect


def load_in_process(asset: TableAsset, ctx: RunContext, result: AssetResult) -> AssetResult:
    """Read changed documents and load them batch by batch, one commit per batch, counting into
    `result` (the caller's: when a batch fails, it holds what the committed ones did).

    Each batch commits with the watermark it reached (etl.engine.load.batches). After the last
    batch, rows of documents deleted from the collection are removed (see `_deletions`), in the
    transaction that commits the final watermark."""
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
                mark = _watermark_after(mark, batch.raws, asset.cursor, bound)
                if mark is not None:
                    save_watermark(conn, asset.name, collection, mark, ctx.run_id)
                conn.commit()
                batch.add_to(result)
                ctx.progress(asset.name, result.documents_read, total)
            if had_rows and (reads_all or asset.detect_deletes):
                result.rows_deleted = _deletions(loader, ctx, collection, scanned=reads_all)
                conn.commit()
            result.watermark_after = mark.to_json() if mark else None
        except BaseException:
            conn.rollback()
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


def _watermark_after(
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
