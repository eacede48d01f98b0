"""`python -m etl bench --stream`: change-stream replication measured, next to the batch passes.

On a scratch MongoDB server and a scratch warehouse database, `user_sessions` is streamed
(`etl.engine.run.stream`) while a writer changes the collection:
- **burst**: `n` documents inserted as fast as the server takes them; the figure is events
  applied per second, from the first event to the last commit (what the stream sustains);
- **steady**: `rate` inserts and updates per second for `seconds`; the figures are the lag of
  each event, from its server wall time to the commit of its batch (p50, p99).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId

from etl.bench.documents import EPOCH, session_documents
from etl.bench.run import scratch_database, scratch_mongo
from etl.definitions import defs
from etl.engine.load.batches import batched
from etl.engine.run.stream import StreamFigures, StreamOptions
from etl.migrations import upgrade
from etl.services.mongo import mongo_client
from etl.services.postgres import scratch_admin_url
from etl.settings import Settings, get_settings

ASSET = "user_sessions"
WAIT_S = 120.0


@dataclass
class StreamPass:
    name: str
    events: int
    seconds: float
    lag_p50_s: float
    lag_p99_s: float
    offered_per_second: float | None = None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def run_stream_bench(n: int, rate: int, seconds: float, seed: int = 42) -> list[StreamPass]:
    """`stream_passes` on a scratch warehouse database and a scratch MongoDB server (both
    removed afterwards), migrated first."""
    base = get_settings()
    with scratch_database(scratch_admin_url(base)) as url:
        upgrade(url)
        scratch = base.model_copy(update={"postgres_url": url, "postgres_owner_url": url})
        with scratch_mongo(scratch) as settings:
            return stream_passes(settings, n, rate, seconds, seed)


def stream_passes(
    settings: Settings, n: int, rate: int, seconds: float, seed: int = 42
) -> list[StreamPass]:
    """The burst and steady passes (see the module docstring), on `settings`' scratch servers:
    the caller gives a scratch warehouse database and a scratch MongoDB database."""
    database = mongo_client(settings).get_database(settings.mongo_db)
    sessions = database[ASSET]
    sessions.insert_one(next(_fresh(1, seed, "first")))  # a first load to hand over from
    stop = threading.Event()
    figures: dict[str, StreamFigures] = {}
    options = StreamOptions(batch_size=2_000, max_wait=0.2)
    runner = threading.Thread(
        target=defs.stream,
        args=(ASSET,),
        kwargs={"stop": stop, "settings": settings, "options": options, "on_start": figures.update},
        daemon=True,
    )
    runner.start()
    try:
        _wait(lambda: ASSET in figures and figures[ASSET].state == "streaming")
        stats = figures[ASSET]
        burst = _burst(sessions, stats, n, seed)
        steady = _steady(sessions, stats, rate, seconds, seed + n)
    finally:
        stop.set()
        runner.join(WAIT_S)
    if stats.state == "failed":
        raise RuntimeError(f"the benchmark's stream failed: {stats.last_error}")
    return [burst, steady]


def _burst(sessions: Any, stats: StreamFigures, n: int, seed: int) -> StreamPass:
    before = stats.events
    started = time.perf_counter()
    for chunk in batched(_fresh(n, seed, "burst"), 1_000):
        sessions.insert_many(chunk, ordered=False)
    _wait(lambda: stats.events - before >= n)
    seconds = time.perf_counter() - started
    lags = list(stats.lags)[-n:]
    return StreamPass("burst", n, round(seconds, 3), *_percentiles(lags))


def _steady(
    sessions: Any, stats: StreamFigures, rate: int, seconds: float, seed: int
) -> StreamPass:
    """`rate` changes a second, in ten slices a second: inserts, and every fourth an update."""
    before = stats.events
    slice_s, per_slice = 0.1, max(rate // 10, 1)
    made = _fresh(int(rate * seconds) * 2 + per_slice, seed, "steady")
    written, started = 0, time.perf_counter()
    inserted: list[Any] = []
    while time.perf_counter() - started < seconds:
        tick = time.perf_counter()
        chunk = [next(made) for _ in range(per_slice)]
        updates = inserted[-(per_slice // 4) :] if per_slice >= 4 else []
        sessions.insert_many(chunk, ordered=False)
        for doc_id in updates:
            sessions.update_one(
                {"_id": doc_id}, {"$set": {"updated_at": EPOCH + timedelta(days=400)}}
            )
        inserted = [d["_id"] for d in chunk]
        written += len(chunk) + len(updates)
        time.sleep(max(slice_s - (time.perf_counter() - tick), 0))
    offered = written / (time.perf_counter() - started)
    _wait(lambda: stats.events - before >= written)
    lags = list(stats.lags)[-written:]
    return StreamPass("steady", written, round(seconds, 3), *_percentiles(lags), round(offered, 1))


def _fresh(n: int, seed: int, tag: str) -> Iterator[dict[str, Any]]:
    """`n` benchmark documents with ids of their own (the batch passes' ids repeat per run)."""
    for k, doc in enumerate(session_documents(n, seed)):
        yield {**doc, "_id": ObjectId(), "session_id": f"{tag}-{k}"}


def _percentiles(lags: list[float]) -> tuple[float, float]:
    if len(lags) < 2:
        return (lags[0], lags[0]) if lags else (0.0, 0.0)
    cuts = statistics.quantiles(lags, n=100)
    return round(cuts[49], 3), round(cuts[98], 3)


def _wait(done: Any, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's stream did not keep up within 2 minutes")
        time.sleep(0.05)
