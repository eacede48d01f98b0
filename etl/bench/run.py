"""`python -m etl bench`: the real transform + load path against a plain COPY, same documents.

Documents are user_sessions-shaped (nested pages and actions, as the generator makes them),
produced lazily from a seed so memory does not grow with N, with deterministic `_id`s so the
second pass sees the very same documents. Everything runs in a scratch database on the
configured server (created and dropped here), never in the warehouse itself.

Four measurements, one process:
- ceiling: the same rows, flattened ahead of time (untimed), COPYed (binary, as the loader
  does) into empty tables;
- first load: `materialize("user_sessions")` into empty tables (transform, hash, COPY, merge);
- second load: a full refresh over the same documents, where nothing changed;
- the first load again without the schema-drift field inventory (ETL_FIELD_INVENTORY off):
  what the inventory costs.
Then `reconcile` of the loaded table against the same documents (it must find them equal), and
the incremental mart they feed, `user_activity_daily`: a full build, and a build after one
day's sessions were loaded again (their `loaded_at` moved, as a reload would move it).
Making a document costs about a microsecond (see `session_documents`) and is timed with the load.
"""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from psycopg import sql

from etl.bench.documents import (
    EPOCH,
    TABLES,
    SessionRanges,
    flatten,
    raw_session_documents,
    raw_sessions_as_read,
    session_documents,
)
from etl.definitions import defs
from etl.engine import TableAsset
from etl.engine.load.batches import batched
from etl.engine.load.reading import read_changed
from etl.engine.observe.reconcile import reconcile
from etl.engine.rows.binary_copy import column_oids
from etl.migrations import upgrade
from etl.services import mongo_server
from etl.services.mongo import (
    READ_OPTIONS,
    close_clients,
    mongo_client,
    raw_collection,
)
from etl.services.postgres import pg_connect, scratch_admin_url
from etl.settings import Settings, get_settings

CEILING_COLUMNS = {
    "shop.user_sessions": (
        "source_id",
        "source_updated_at",
        "source_hash",
        "session_id",
        "user_id",
        "start_time",
        "end_time",
        "device_type",
        "device_os",
        "device_browser",
    ),
    "shop.session_pages": ("session_id", "position", "page"),
    "shop.session_actions": ("session_id", "position", "action_type", "target", "occurred_at"),
}


@dataclass
class Pass:
    name: str
    documents: int
    rows: int
    seconds: float

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class MartTimes:
    """`user_activity_daily` over the loaded sessions: full build vs one changed day."""

    rows: int
    full_s: float
    one_day_s: float
    one_day_rows: int


@dataclass
class MongoPass:
    """The first load read from MongoDB (a scratch database of the configured server), and
    where its time goes: each part timed alone on the same documents."""

    load: Pass
    insert_s: float
    """Inserting the documents (not part of the load; the server's write speed)."""
    server_read_s: float
    """The load's query alone: the sorted read of every document as raw BSON (server + wire)."""
    decode_s: float
    """Decoding those bytes into Python values (what the loader does for changed documents)."""


@dataclass
class BenchResult:
    documents: int
    batch_size: int
    passes: list[Pass]
    peak_rss_mb: float
    mart: MartTimes | None = None
    reconcile_s: float | None = None
    """`reconcile` of the loaded table against the same documents (hash + COPY + compare)."""
    partitioned: Pass | None = None
    """The first load again as a partitioned snapshot (`partitions` ranges, `workers` processes)."""
    partitions: int = 1
    workers: int = 1
    worker_peak_rss_mb: float | None = None
    compared: list[Pass] = field(default_factory=list)
    """The same documents through another tool (`--compare dlt`, etl.compare)."""
    from_mongo: MongoPass | None = None

    def figures(self) -> dict[str, Any]:
        ceiling, first, second, without = (p for p in self.passes)
        return {
            "documents": self.documents,
            "batch_size": self.batch_size,
            "passes": [
                asdict(p) | {"docs_per_s": round(p.docs_per_s), "rows_per_s": round(p.rows_per_s)}
                for p in self.passes
            ],
            "first_load_vs_ceiling": round(first.docs_per_s / ceiling.docs_per_s, 3),
            "second_run_speedup": round(first.seconds / second.seconds, 2),
            "field_inventory_cost": round(1 - first.docs_per_s / without.docs_per_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "mart": asdict(self.mart) if self.mart else None,
            "reconcile_s": self.reconcile_s,
            "partitioned": (
                None
                if self.partitioned is None
                else asdict(self.partitioned)
                | {
                    "partitions": self.partitions,
                    "workers": self.workers,
                    "docs_per_s": round(self.partitioned.docs_per_s),
                    "speedup_vs_single_process": round(first.seconds / self.partitioned.seconds, 2),
                    "worker_peak_rss_mb": self.worker_peak_rss_mb,
                }
            ),
            "compared": [
                asdict(p) | {"docs_per_s": round(p.docs_per_s), "rows_per_s": round(p.rows_per_s)}
                for p in self.compared
            ],
            "from_mongo": (
                None
                if self.from_mongo is None
                else asdict(self.from_mongo)
                | {
                    "docs_per_s": round(self.from_mongo.load.docs_per_s),
                    "server_docs_per_s": round(n / self.from_mongo.server_read_s)
                    if (n := self.from_mongo.load.documents) and self.from_mongo.server_read_s
                    else None,
                }
            ),
        }


@contextmanager
def scratch_database(base_url: str) -> Iterator[str]:
    """A fresh database on the same server, dropped afterwards."""
    name = f"etl_bench_{int(time.time())}"
    with pg_connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(base_url, name)
    try:
        yield url
    finally:
        with pg_connect(base_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _with_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _truncate(url: str) -> None:
    with pg_connect(url, autocommit=True) as conn:
        conn.execute(
            f"TRUNCATE {', '.join(TABLES)}, etl.watermarks, etl.rejects, etl.field_inventory, "
            "etl.snapshots, etl.snapshot_ranges CASCADE"
        )


def _ceiling(url: str, n: int, seed: int, batch: int) -> Pass:
    """The same rows, flattened ahead of time (untimed), in the loader's COPY format (binary,
    etl.engine.rows.binary_copy): what loading costs with no transform, no checks, no merge."""
    _truncate(url)
    copy_seconds, rows = 0.0, 0
    docs = session_documents(n, seed)
    with pg_connect(url) as conn:
        types = {t: column_oids(conn, t, CEILING_COLUMNS[t]) for t in TABLES}
        while True:
            chunk: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
            for _, doc in zip(range(batch), docs, strict=False):
                for table, table_rows in flatten(doc).items():
                    chunk[table].extend(map(_aware, table_rows))
            if not chunk[TABLES[0]]:
                break
            t = time.perf_counter()
            with conn.cursor() as cur:
                for table, table_rows in chunk.items():
                    schema, name = table.split(".")
                    cols = sql.SQL(", ").join(map(sql.Identifier, CEILING_COLUMNS[table]))
                    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                        sql.Identifier(schema, name), cols
                    )
                    with cur.copy(query) as copy:
                        copy.set_types(types[table])
                        for row in table_rows:
                            copy.write_row(row)
                    rows += len(table_rows)
            conn.commit()
            copy_seconds += time.perf_counter() - t
    return Pass("plain COPY (ceiling)", n, rows, copy_seconds)


def _aware(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dates as the loader writes them (aware UTC), which binary COPY into timestamptz needs."""
    return tuple(v.replace(tzinfo=UTC) if type(v) is datetime else v for v in row)


def _engine_pass(name: str, settings: Settings, n: int, seed: int, full_refresh: bool) -> Pass:
    return _timed_load(
        name,
        full_refresh=full_refresh,
        settings=settings,
        document_source=lambda collection: raw_sessions_as_read(n, seed),
        document_source_ordered=True,
    )


def _timed_load(name: str, **options: Any) -> Pass:
    """`materialize("user_sessions", **options)`, timed; a failed load stops the benchmark."""
    t = time.perf_counter()
    summary = defs.materialize("user_sessions", **options)
    elapsed = time.perf_counter() - t
    outcome = summary["user_sessions"]
    if outcome.status != "success":
        raise RuntimeError(f"benchmark load ({name}) failed: {outcome.error}")
    return Pass(name, outcome.result.documents_read, outcome.result.total_rows, elapsed)


def run_bench(
    n: int,
    *,
    seed: int = 42,
    batch_size: int | None = None,
    partitions: int = 1,
    workers: int = 1,
    compare: str | None = None,
    from_mongo: bool = True,
    on_pass: Callable[[Pass], None] = lambda p: None,
) -> BenchResult:
    base = get_settings()
    batch = batch_size or base.batch_size
    with scratch_database(scratch_admin_url(base)) as url:
        upgrade(url)
        settings = base.model_copy(
            update={"postgres_url": url, "postgres_owner_url": url, "batch_size": batch}
        )
        passes = []
        ceiling = _ceiling(url, n, seed, batch)
        on_pass(ceiling)
        passes.append(ceiling)
        _truncate(url)
        for name, refresh in (("first load", False), ("second run, unchanged", True)):
            result = _engine_pass(name, settings, n, seed, refresh)
            on_pass(result)
            passes.append(result)
        _truncate(url)  # the same first load without the drift inventory: what it costs
        bare = settings.model_copy(update={"field_inventory": False})
        without = _engine_pass("first load, no field inventory", bare, n, seed, False)
        on_pass(without)
        passes.append(without)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reconcile_s = _reconcile_pass(url, n, seed)
        mart = _mart_pass(url, settings)
        bench = BenchResult(n, batch, passes, peak, mart, reconcile_s)
        if partitions > 1:
            _truncate(url)
            bench.partitioned = _partitioned_pass(settings, n, seed, partitions, workers)
            bench.partitions, bench.workers = partitions, workers
            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            bench.worker_peak_rss_mb = round(children, 1) if workers > 1 else None
            on_pass(bench.partitioned)
        if from_mongo:
            _truncate(url)
            bench.from_mongo = _mongo_pass(settings, n, seed)
            on_pass(bench.from_mongo.load)
        if compare == "dlt":
            from etl.compare import dlt_passes

            for name, docs, rows, seconds in dlt_passes(url, lambda: session_documents(n, seed), n):
                bench.compared.append(Pass(name, docs, rows, seconds))
                on_pass(bench.compared[-1])
    return bench


def _partitioned_pass(settings: Settings, n: int, seed: int, partitions: int, workers: int) -> Pass:
    """The first load as a partitioned snapshot of the same documents
    (etl.engine.snapshots.snapshot)."""
    result = _timed_load(
        f"first load, {partitions} ranges, {workers} workers",
        settings=settings,
        partitions=partitions,
        workers=workers,
        range_source=SessionRanges(n, seed),
    )
    if result.documents != n:
        raise RuntimeError(f"benchmark partitioned load read {result.documents:,} of {n:,}")
    return result


def _reconcile_pass(url: str, n: int, seed: int) -> float:
    """Reconcile the loaded sessions with their documents; they must be equal."""
    asset = defs.graph.assets["user_sessions"]
    assert isinstance(asset, TableAsset)
    t = time.perf_counter()
    with pg_connect(url) as conn:
        result = reconcile(conn, asset, raw_session_documents(n, seed))
    elapsed = time.perf_counter() - t
    if not result.ok or result.loaded != n:
        raise RuntimeError(f"benchmark reconcile found differences: {result.summary()}")
    return round(elapsed, 3)


def _mart_pass(url: str, settings: Settings) -> MartTimes:
    def build(full: bool) -> tuple[float, int]:
        t = time.perf_counter()
        summary = defs.materialize("user_activity_daily", full_refresh=full, settings=settings)
        outcome = summary["user_activity_daily"]
        if outcome.status != "success":
            raise RuntimeError(f"benchmark mart build failed: {outcome.error}")
        return time.perf_counter() - t, outcome.result.total_rows

    full_s, rows = build(full=True)
    with pg_connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE shop.user_sessions SET loaded_at = now() WHERE start_time >= %s"
            " AND start_time < %s",
            [EPOCH + timedelta(days=100), EPOCH + timedelta(days=101)],
        )
    one_day_s, one_day_rows = build(full=False)
    return MartTimes(rows, round(full_s, 3), round(one_day_s, 3), one_day_rows)


@contextmanager
def scratch_mongo(settings: Settings) -> Iterator[Settings]:
    """`settings` pointing at a fresh MongoDB database, removed afterwards: on the embedded
    default, a server of its own under LOCAL_DIR (stopped and deleted: dropping 200,000
    documents one by one would take the embedded server minutes); with MONGO_URI set, a
    scratch database on that server (dropped)."""
    name = f"etl_bench_{int(time.time())}"
    if settings.mongo_uri:
        try:
            yield settings.model_copy(update={"mongo_db": name})
        finally:
            mongo_client(settings).drop_database(name)
        return
    root = settings.local_dir.resolve() / name
    try:
        server = mongo_server.ensure_server(root, root / "secrets")
        yield settings.model_copy(update={"mongo_uri": server.uri("admin"), "mongo_db": name})
    finally:
        close_clients()
        mongo_server.stop_server(root)
        shutil.rmtree(root, ignore_errors=True)


def _mongo_pass(settings: Settings, n: int, seed: int) -> MongoPass:
    """Insert the documents into a scratch MongoDB database (with the index the generator
    creates first, as a live collection has it), load them through the real reader (one
    process), then time its parts alone: the server's sorted raw read, and BSON decoding."""
    with scratch_mongo(settings) as reading:
        database = mongo_client(reading).get_database(reading.mongo_db)
        t = time.perf_counter()
        database.user_sessions.create_index([("updated_at", 1), ("_id", 1)])
        for chunk in batched(session_documents(n, seed), 5_000):
            database.user_sessions.insert_many(chunk, ordered=False)
        insert_s = time.perf_counter() - t
        load = _timed_load("first load from MongoDB", settings=reading, partitions=1)
        if load.documents != n:
            raise RuntimeError(f"benchmark load from MongoDB read {load.documents:,} of {n:,}")
        read_s = decode_s = 0.0
        t = time.perf_counter()
        docs, _ = read_changed(raw_collection(database, "user_sessions"), "updated_at", None)
        for doc in docs:
            assert isinstance(doc, RawBSONDocument)
            d = time.perf_counter()
            bson.decode(doc.raw, READ_OPTIONS)
            decode_s += time.perf_counter() - d
        read_s = time.perf_counter() - t - decode_s
    return MongoPass(load, round(insert_s, 3), round(read_s, 3), round(decode_s, 3))
