"""Continuous replication: each selected table asset follows its collection's change stream.

One change stream per collection, each in its own thread with its own connections, holding
the asset's lock for as long as it runs (a `materialize` of the asset waits). What the design
answers, point by point:

- **The latest state of each document.** Events come as raw BSON with their documents
  (`updateLookup` for updates: the document as it is when the event is read); a batch keeps
  each document's last event. An update whose document was deleted meanwhile carries none: its
  rows are deleted (as the delete event will again, harmlessly). Intermediate states are not
  history this product keeps: the tables end at the collection's state, as a batch run leaves
  them. An event too large to carry (over 16 MB with its document) switches the stream to keys
  only, and each batch reads its documents by key in one `$in` query.
- **Exactly-once effect.** A batch's rows, rejects, field inventory and resume token commit in
  one PostgreSQL transaction; after kill -9 the stream resumes after the last committed token
  and events replayed over loaded documents are no-ops (the stored hash skips them).
- **Hand-over without gap or duplicate.** An asset without a stored position first opens its
  stream (the starting token is taken *before* any reading), then loads through the ordinary
  run (a snapshot, partitioned when declared, or an incremental catch-up), then follows the
  stream from that token: whatever changed meanwhile is replayed, and hash-skipped if loaded.
- **Never a full re-sync.** Quiet collections advance their stored token from the server's
  post-batch resume token every `checkpoint_every` seconds. A lost position (history gone from
  the oplog, an invalid token, a non-resumable stream error) is recorded and healed: a fresh
  stream is opened (new token first), the incremental path catches up (watermark plus the
  deletes scan), and following resumes; `status` shows how many heals and why.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from pymongo.errors import OperationFailure

from etl.engine.bookkeeping.positions import (
    load_position,
    record_state,
    save_position,
    start_position,
)
from etl.engine.bookkeeping.records import (
    acquire_asset_lock,
    record_end,
    record_start,
    release_asset_lock,
)
from etl.engine.declare.assets import TableAsset
from etl.engine.declare.context import RunContext
from etl.engine.declare.graph import AssetGraph
from etl.engine.load.loader import TableLoader
from etl.engine.load.reading import run_bound
from etl.engine.run.runner import naming_lost_postgres, new_run_id, run_context, run_one
from etl.engine.snapshots.snapshot import current_snapshot
from etl.engine.values.identity import source_key
from etl.engine.values.raw import SourceDocument
from etl.engine.values.results import AssetResult
from etl.errors import UserFacingError
from etl.services.mongo import raw_collection, read_collection
from etl.services.postgres import pg_connect
from etl.settings import Settings

log = logging.getLogger(__name__)

KEYS_ONLY = [{"$project": {"fullDocument": 0, "updateDescription": 0}}]
"""The fallback after an event too large to carry: token, operation, times and key only."""
TOO_LARGE = {10334, 17419, 16819}
"""BSONObjectTooLarge and kin: an event with its document over 16 MB."""
ENDS_STREAM = {"drop", "rename", "dropDatabase", "invalidate"}
"""Events after which the collection is not the one followed: healed like a lost position."""


class PositionLost(Exception):
    """The stream cannot go on from where it is (see ENDS_STREAM)."""


LOST_POSITION = {
    286: "ChangeStreamHistoryLost",
    260: "InvalidResumeToken",
    280: "ChangeStreamFatalError",
}
"""Server errors that mean the stored position cannot be resumed: healed, never fatal."""
LAGS_KEPT = 200_000
"""Per-event lags kept for the figures (a few MB at most)."""


@dataclass(frozen=True)
class StreamOptions:
    batch_size: int = 1_000
    """Events per batch at most."""
    max_wait: float = 0.5
    """Seconds a batch waits for more events after its first one (and a quiet read waits)."""
    checkpoint_every: float = 5.0
    """Seconds between saves of a quiet stream's advancing token."""


@dataclass
class StreamFigures:
    """One streamed asset, live: what the display and the benchmark read."""

    asset: str
    state: str = "starting"
    events: int = 0
    rows: int = 0
    deleted: int = 0
    rejects: int = 0
    heals: int = 0
    last_error: str | None = None
    keys_only: bool = False
    """Switched to events without documents (after one too large to carry)."""
    started: float = field(default_factory=time.monotonic)
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=LAGS_KEPT))
    """Seconds from each event (its server wall time) to the commit of its batch."""

    @property
    def events_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0

    @property
    def lag(self) -> float | None:
        return self.lags[-1] if self.lags else None


def stream(
    selection: str | None,
    *,
    graph: AssetGraph,
    stop: threading.Event,
    settings: Settings | None = None,
    options: StreamOptions | None = None,
    run_id: str | None = None,
    on_start: Callable[[dict[str, StreamFigures]], None] | None = None,
) -> dict[str, StreamFigures]:
    """Follow the selected table assets' change streams until `stop` is set; each stream
    finishes the batch in hand. Returns each asset's figures (state `stopped` or `failed`)."""
    names = [n for n in graph.select(selection) if isinstance(graph.assets[n], TableAsset)]
    if not names:
        raise UserFacingError(f"no table asset in selection {selection!r}: nothing to stream")
    ctx = run_context(graph, run_id or f"stream-{new_run_id()}", settings)
    ctx.mongo  # noqa: B018  (connect now: an unreachable MongoDB fails before any work)
    opts = options or StreamOptions()
    figures = {name: StreamFigures(name) for name in names}
    if on_start is not None:
        on_start(figures)
    threads = [
        threading.Thread(
            target=_guarded,
            args=(graph.assets[name], ctx, stop, figures[name], opts),
            name=f"stream-{name}",
            daemon=True,
        )
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return figures


def _guarded(
    asset: TableAsset,
    ctx: RunContext,
    stop: threading.Event,
    figures: StreamFigures,
    options: StreamOptions,
) -> None:
    """One asset's stream; an error ends this asset's stream only (the others go on)."""
    try:
        with naming_lost_postgres(ctx):
            follow_asset(asset, ctx, stop, figures, options)
        figures.state = "stopped"
    except Exception as exc:
        figures.state = "failed"
        figures.last_error = str(exc) if isinstance(exc, UserFacingError) else repr(exc)
        log.error("stream of %s failed: %s", asset.name, figures.last_error)


def follow_asset(
    asset: TableAsset,
    ctx: RunContext,
    stop: threading.Event,
    figures: StreamFigures,
    options: StreamOptions,
) -> None:
    """Hold the asset's lock, hand over from the stored position (or a first load), then apply
    batches of events until `stop`; heal a lost position by the incremental path."""
    url = ctx.postgres_url
    with pg_connect(url, autocommit=True) as records:
        acquire_asset_lock(records, asset.name, ctx.settings.lock_timeout)
        result = AssetResult()
        try:
            record_start(records, ctx.run_id, asset.name, False)
            stored = load_position(records, asset.name)
            token = stored.resume_token if stored else None
            start_position(records, asset.name, asset.source, ctx.run_id, "starting")
            if token is None:  # never streamed: the stream's start first, then load
                token = _opening_token(ctx, asset)
                figures.state = "loading"
                record_state(records, asset.name, "loading")
                _catch_up(asset, ctx, records)
                save_position(records, asset.name, token, state="streaming")
            while not stop.is_set():
                try:
                    figures.state = "streaming"
                    record_state(records, asset.name, "streaming")
                    token = _apply_events(asset, ctx, token, stop, figures, options, result)
                except OperationFailure as exc:
                    if exc.code not in LOST_POSITION:
                        raise
                    reason = f"{LOST_POSITION[exc.code]} (code {exc.code})"
                    token = _heal(asset, ctx, records, figures, reason)
                except PositionLost as exc:
                    token = _heal(asset, ctx, records, figures, str(exc))
            record_state(records, asset.name, "stopped")
            record_end(records, ctx.run_id, asset.name, "success", result)
        except BaseException as exc:
            message = str(exc) if isinstance(exc, UserFacingError) else repr(exc)
            if not isinstance(exc, psycopg.OperationalError):
                record_state(records, asset.name, "failed", message)
                record_end(records, ctx.run_id, asset.name, "failed", result, message)
            raise
        finally:
            if not records.closed:
                release_asset_lock(records, asset.name)


def _opening_token(ctx: RunContext, asset: TableAsset) -> dict[str, Any]:
    """A position taken now, before anything is read: the stream's start."""
    with read_collection(ctx.mongo, asset.source).watch(KEYS_ONLY) as opened:
        token = opened.resume_token
    if token is None:
        raise UserFacingError(f"the server gave no resume token for {asset.source}")
    return dict(token)


def _catch_up(asset: TableAsset, ctx: RunContext, records: psycopg.Connection) -> None:
    """The ordinary run of the asset, under the lock this stream holds, recorded as its own run
    (a first load, or the incremental path: watermark catch-up and the deletes scan). A
    snapshot left open by a stream killed earlier was planned before this stream's token, so
    its watermark may be older: one incremental run more after finishing it leaves no gap."""
    with pg_connect(ctx.postgres_url) as conn:
        resumed = current_snapshot(conn, asset.name) is not None
    for _ in range(2 if resumed else 1):
        outcome = run_one(asset, dataclasses.replace(ctx, run_id=new_run_id()), records)
        if outcome.status != "success":
            raise UserFacingError(f"{asset.name}: catching up failed: {outcome.error}")


def _heal(
    asset: TableAsset,
    ctx: RunContext,
    records: psycopg.Connection,
    figures: StreamFigures,
    reason: str,
) -> dict[str, Any]:
    """A lost position: recorded, then a fresh token, the incremental catch-up, and on."""
    log.warning("%s: stream position lost, %s; healing by an incremental load", asset.name, reason)
    figures.state, figures.last_error = "healing", f"position lost: {reason}"
    figures.heals += 1
    record_state(records, asset.name, "healing", f"position lost: {reason}", heal=True)
    token = _opening_token(ctx, asset)
    _catch_up(asset, ctx, records)
    save_position(records, asset.name, token, state="streaming")
    return token


def _apply_events(
    asset: TableAsset,
    ctx: RunContext,
    token: dict[str, Any],
    stop: threading.Event,
    figures: StreamFigures,
    options: StreamOptions,
    result: AssetResult,
) -> dict[str, Any]:
    """Follow the stream from `token` until `stop`, one transaction per batch of events;
    returns the last token committed. Events carry their documents (`updateLookup` for
    updates); an event too large to carry switches this stream to keys only."""
    documents = raw_collection(ctx.mongo, asset.source)
    url = ctx.postgres_url
    keys_only = False
    with pg_connect(url) as conn, pg_connect(url, autocommit=True) as lookup:
        loader = TableLoader(asset, conn, ctx.run_id, track_fields=ctx.settings.field_inventory)
        while not stop.is_set():
            try:
                return _follow(loader, documents, lookup, token, stop, figures, options, result,
                               keys_only=keys_only)  # fmt: skip
            except OperationFailure as exc:
                if exc.code not in TOO_LARGE or keys_only:
                    raise
                log.warning("%s: an event too large to carry; reading documents by key", asset.name)
                conn.rollback()
                keys_only = figures.keys_only = True
                token = _stored_token(conn, asset.name) or token
    return token


def _follow(
    loader: TableLoader,
    documents: Any,
    lookup: psycopg.Connection,
    token: dict[str, Any],
    stop: threading.Event,
    figures: StreamFigures,
    options: StreamOptions,
    result: AssetResult,
    *,
    keys_only: bool,
) -> dict[str, Any]:
    conn, name = loader.conn, loader.asset.name
    watch_options: dict[str, Any] = {
        "resume_after": token,
        "max_await_time_ms": max(int(options.max_wait * 1000), 1),
        "batch_size": options.batch_size,
    }
    if keys_only:
        changes = documents.watch(KEYS_ONLY, **watch_options)
    else:
        changes = documents.watch(full_document="updateLookup", **watch_options)
    with changes:
        saved_at = time.monotonic()
        while not stop.is_set():
            events = list(_batch(changes, options))
            now_token = changes.resume_token
            if now_token is None:
                continue
            if events:
                _commit_batch(loader, documents, lookup, events, dict(now_token), figures, result)
                saved_at = time.monotonic()
            elif now_token != token and time.monotonic() - saved_at >= options.checkpoint_every:
                save_position(conn, name, dict(now_token))  # a quiet collection
                conn.commit()
                saved_at = time.monotonic()
            token = dict(now_token)
    return token


def _stored_token(conn: psycopg.Connection, asset: str) -> dict[str, Any] | None:
    position = load_position(conn, asset)
    return position.resume_token if position else None


def _batch(changes: Any, options: StreamOptions) -> Iterator[Any]:
    """Events until the batch is full or `max_wait` passed since its first event."""
    deadline: float | None = None
    count = 0
    while count < options.batch_size:
        event = changes.try_next()
        if event is None:
            return
        yield event
        count += 1
        deadline = deadline or time.monotonic() + options.max_wait
        if time.monotonic() >= deadline:
            return


def _latest_states(events: list[Any], documents: Any) -> tuple[list[SourceDocument], list[str]]:
    """Each document's latest state in the batch: the last event's document where it carries
    one, else the document read now by key (absent: gone). Returns (documents, source ids of
    the documents gone)."""
    last: dict[str, Any] = {}
    for event in events:
        operation = event["operationType"]
        if operation in ENDS_STREAM:
            raise PositionLost(f"the collection was {operation}ped" if operation == "drop"
                               else f"change stream event {operation!r}")  # fmt: skip
        key = event["documentKey"]["_id"]
        last[source_key(key)] = event
    found: list[SourceDocument] = []
    gone: list[str] = []
    by_key: dict[str, Any] = {}
    for sid, event in last.items():
        document = event.get("fullDocument") if event["operationType"] != "delete" else None
        if document is not None:
            found.append(document)
        elif event["operationType"] == "delete" or "fullDocument" in event:
            gone.append(sid)  # deleted, or deleted by the time its update was looked up
        else:
            by_key[sid] = event["documentKey"]["_id"]  # keys only: read it now
    if by_key:
        read = list(documents.find({"_id": {"$in": list(by_key.values())}}))
        found += read
        present = {source_key(d["_id"]) for d in read}
        gone += [sid for sid in by_key if sid not in present]
    return found, gone


def _commit_batch(
    loader: TableLoader,
    documents: Any,
    lookup: psycopg.Connection,
    events: list[Any],
    token: dict[str, Any],
    figures: StreamFigures,
    result: AssetResult,
) -> None:
    """Load the batch's latest document states, delete the rows of those gone, and move the
    token — in one transaction."""
    asset = loader.asset
    found, gone = _latest_states(events, documents)
    loader.cursor_bound = run_bound()
    prepared = loader.prepare(found, lookup)
    stats = loader.write(prepared, asset.source)
    deleted = loader.delete_documents(gone)
    now = datetime.now(UTC).replace(tzinfo=None)  # event wall times are naive UTC
    times = [e["wallTime"] for e in events if e.get("wallTime") is not None]
    lags = [(now - t).total_seconds() for t in times]
    save_position(
        loader.conn, asset.name, token, events=len(events), last_event_at=max(times, default=None),
        lag_seconds=lags[-1] if lags else None,
    )  # fmt: skip
    loader.conn.commit()
    figures.lags.extend(lags)
    figures.events += len(events)
    figures.rows += sum(stats.rows.values())
    figures.deleted += deleted
    figures.rejects += stats.rejects
    result.add_counts(stats.read, stats.unchanged, stats.rejects, prepared.anomalies, stats.rows)
    result.rows_deleted += deleted
