"""Loading a snapshot's ranges with N local processes (`materialize --workers N`).

Each worker is a forked process: it inherits the asset (its transform is code, not data, so it is
not pickled) and opens its own PostgreSQL and MongoDB connections. Workers claim ranges through the
ranges' advisory locks (etl.engine.snapshots.snapshot), so they never load one range twice and can
run next to Airflow tasks loading the same snapshot. A worker that dies (kill -9, out of memory)
releases its range with its connection: a live worker, or this process once every worker has exited,
picks the range up at its checkpoint. Progress is read from the ranges' records, which every batch
commit updates."""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import time

import psycopg

from etl.engine.declare.assets import TableAsset
from etl.engine.declare.context import RunContext
from etl.engine.snapshots.snapshot import (
    MAX_ATTEMPTS,
    Snapshot,
    claim_next,
    current_snapshot,
    load_claimed,
    release,
)
from etl.engine.values.results import no_progress
from etl.services.postgres import pg_connect

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1


def range_label(asset: str, index: int, count: int) -> str:
    return f"{asset} [{index + 1}/{count}]"


def load_ranges(asset: TableAsset, ctx: RunContext, snapshot: Snapshot, workers: int) -> Snapshot:
    """Load every range of `snapshot` that needs it, with up to `workers` processes; returns
    the snapshot as the ranges left it (to finish, or to report what is left)."""
    todo = snapshot.remaining
    count = len(snapshot.ranges)
    for r in snapshot.ranges:  # a bar per range, finished ones full
        ctx.progress(range_label(asset.name, r.index, count), r.result.documents_read,
                     r.id_range.expected)  # fmt: skip
    if workers > 1 and len(todo) > 1:
        _in_processes(asset, ctx, snapshot, min(workers, len(todo)))
    # what is left: everything (one worker), a dead worker's range, or ranges other processes
    # (Airflow tasks, another run) hold: those are waited for, up to ETL_LOCK_TIMEOUT
    deadline = time.monotonic() + ctx.settings.lock_timeout
    while True:
        claim_and_load_ranges(asset, ctx, snapshot)
        with pg_connect(ctx.postgres_url, autocommit=True) as conn:
            now = current_snapshot(conn, asset.name) or snapshot
        held = [r for r in now.remaining if r.status != "failed" and r.attempts < MAX_ATTEMPTS]
        if not held or time.monotonic() >= deadline:
            return now
        time.sleep(POLL_SECONDS)


def claim_and_load_ranges(asset: TableAsset, ctx: RunContext, snapshot: Snapshot) -> int:
    """Claim and load ranges until none is left to claim; returns how many this call loaded.
    A failing range is recorded as failed (see `load_claimed`) and the next one is taken."""
    count, loaded = len(snapshot.ranges), 0
    expected = {r.index: r.id_range.expected for r in snapshot.ranges}
    with pg_connect(ctx.postgres_url, autocommit=True) as control:
        while (index := claim_next(control, snapshot.snapshot_id)) is not None:
            label = range_label(asset.name, index, count)

            def progress(done: int, label: str = label, index: int = index) -> None:
                ctx.progress(label, done, expected.get(index))

            try:
                load_claimed(asset, ctx, control, snapshot.snapshot_id, index, progress)
                loaded += 1
            except Exception as exc:
                log.error("%s: range %d failed: %s", asset.name, index, exc)
            finally:
                release(control, snapshot.snapshot_id, index)
    return loaded


def _in_processes(asset: TableAsset, ctx: RunContext, snapshot: Snapshot, workers: int) -> None:
    fork = multiprocessing.get_context("fork")
    processes = [
        fork.Process(
            target=_worker_main,
            args=(asset, ctx, snapshot),
            name=f"etl-{asset.name}-worker-{n}",
        )
        for n in range(workers)
    ]
    for p in processes:
        p.start()
    try:
        with pg_connect(ctx.postgres_url, autocommit=True) as conn:
            while any(p.is_alive() for p in processes):
                _report(conn, ctx, asset, snapshot)
                time.sleep(POLL_SECONDS)
            _report(conn, ctx, asset, snapshot)
    except BaseException:  # interrupted: stop the workers (their ranges keep their checkpoints)
        for p in processes:
            p.terminate()
        raise
    finally:
        for p in processes:
            p.join()
    dead = [p for p in processes if p.exitcode not in (0, None)]
    if dead:
        log.warning(
            "%s: %d worker(s) ended abnormally (exit codes %s); their ranges are resumed",
            asset.name, len(dead), ", ".join(str(p.exitcode) for p in dead),
        )  # fmt: skip


def _worker_main(asset: TableAsset, ctx: RunContext, snapshot: Snapshot) -> None:
    _die_with_parent()  # kill -9 of the run stops its workers too, as it stops its threads
    own = dataclasses.replace(ctx, progress=no_progress)  # fresh connections, no display
    try:
        claim_and_load_ranges(asset, own, snapshot)
    except Exception as exc:  # one line, not a traceback from a child process
        log.error("%s: worker %d stopped: %s", asset.name, os.getpid(), exc)
        os._exit(1)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (prctl PR_SET_PDEATHSIG): an
    orphaned worker would keep loading a range the next run wants to resume. Elsewhere a
    no-op: an orphan then finishes its range, which the next run waits for."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return


def _report(
    conn: psycopg.Connection, ctx: RunContext, asset: TableAsset, snapshot: Snapshot
) -> None:
    count = len(snapshot.ranges)
    rows = conn.execute(
        "SELECT index, documents_read, expected FROM etl.snapshot_ranges WHERE snapshot_id = %s",
        [snapshot.snapshot_id],
    ).fetchall()
    for index, done, expected in rows:
        ctx.progress(range_label(asset.name, index, count), done, expected)
