"""Change streams (`etl stream`): inserts, updates and deletes followed continuously, with the
same transform, checks and rejects as a batch run; exactly-once after kill -9; a hand-over from
the first load without gap or duplicate; a lost position healed without a full refresh; quiet
collections advancing their token; the asset's lock held against batch runs."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import shop_docs
from conftest import truncate_all
from test_crashes_and_errors import contents

from etl.definitions import defs
from etl.engine.bookkeeping.positions import load_position
from etl.engine.bookkeeping.records import AssetLocked
from etl.engine.observe.reconcile import reconcile_assets
from etl.engine.run import stream as stream_module
from etl.engine.run.stream import StreamFigures, StreamOptions
from etl.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
FAST = StreamOptions(max_wait=0.2, checkpoint_every=0.3)
LATER = shop_docs.T0 + timedelta(hours=1)


def wait_for(condition: Callable[[], bool], timeout: float = 40.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or condition}")


@contextmanager
def streaming(selection: str, options: StreamOptions = FAST) -> Iterator[dict[str, StreamFigures]]:
    """`defs.stream(selection)` in a thread; stopped (and joined) on leaving."""
    stop = threading.Event()
    figures: dict[str, StreamFigures] = {}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            defs.stream(selection, stop=stop, options=options, on_start=figures.update)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: bool(figures) or bool(errors), what="the stream to start")
        names = selection.split()
        wait_for(
            lambda: errors or all(figures[n].state == "streaming" for n in names),
            what="every asset to stream",
        )
        assert not errors, errors
        yield figures
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert not errors, errors
    assert {f.state for f in figures.values()} == {"stopped"}, figures


def equal(*names: str) -> bool:
    return all(r.ok for r in reconcile_assets([defs.graph.assets[n] for n in names]))


def test_inserts_updates_and_deletes_are_followed_with_rejects_and_positions(
    db: psycopg.Connection, mongo: Any
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 6)])
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 4)])
    with streaming("event_logs support_tickets") as figures:
        # never streamed: the stream loaded both assets first
        assert db.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (5,)
        assert db.execute("SELECT count(*) FROM shop.support_tickets").fetchone() == (3,)
        mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(6, 9)])
        first = mongo.event_logs.find_one({"event_id": "evt_00001"})
        mongo.event_logs.update_one(
            {"_id": first["_id"]}, {"$set": {"event_type": "click", "updated_at": LATER}}
        )
        mongo.event_logs.delete_one({"event_id": "evt_00002"})
        bad = shop_docs.event_log(9, event_type="bogus", updated_at=LATER)
        mongo.event_logs.insert_one(bad)
        mongo.support_tickets.delete_many({})
        wait_for(lambda: equal("event_logs", "support_tickets"), what="MongoDB = PostgreSQL")
        assert figures["event_logs"].events >= 6 and figures["event_logs"].deleted == 1
        assert figures["support_tickets"].deleted == 3
        assert figures["event_logs"].lags and figures["event_logs"].rejects == 1
    updated = db.execute("SELECT event_type FROM shop.event_logs WHERE event_id = 'evt_00001'")
    assert updated.fetchone() == ("click",)
    code = db.execute("SELECT code FROM etl.rejects WHERE source_id = %s", [str(bad["_id"])])
    assert code.fetchone() == ("invalid",)
    position = load_position(db, "event_logs")
    assert position is not None and position.state == "stopped" and position.resume_token
    assert position.events >= 6 and position.lag_seconds is not None and not position.live
    runs = db.execute(
        "SELECT status, rejects FROM etl.asset_runs WHERE asset = 'event_logs'"
        " AND run_id LIKE 'stream-%%'"
    ).fetchall()
    assert runs == [("success", 1)]
    with streaming("event_logs"):  # erased at the source: its rejected copy goes too
        mongo.event_logs.delete_one({"_id": bad["_id"]})
        wait_for(lambda: db.execute("SELECT count(*) FROM etl.rejects").fetchone() == (0,),
                 what="the reject of the deleted document to go")  # fmt: skip


def test_changes_around_the_first_load_are_neither_lost_nor_doubled(
    db: psycopg.Connection, mongo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream's start is taken before the first load: what changes while it loads (before
    and after its read) is replayed over it, as no-ops where it was loaded already."""
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 11)])
    catch_up = stream_module._catch_up

    def racing(asset: Any, ctx: Any, records: Any) -> None:
        mongo.event_logs.insert_one(shop_docs.event_log(11))  # before the load reads
        mongo.event_logs.update_one({"event_id": "evt_00003"}, {"$set": {"updated_at": LATER}})
        catch_up(asset, ctx, records)
        mongo.event_logs.insert_one(shop_docs.event_log(12))  # after it read, before following
        mongo.event_logs.delete_one({"event_id": "evt_00004"})

    monkeypatch.setattr(stream_module, "_catch_up", racing)
    with streaming("event_logs") as figures:
        wait_for(lambda: equal("event_logs"), what="MongoDB = PostgreSQL")
        wait_for(lambda: figures["event_logs"].events >= 4, what="the racing events")
    assert db.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (11,)
    assert db.execute("SELECT count(*) FROM etl.rejects").fetchone() == (0,)


def test_a_lost_position_is_healed_by_the_incremental_path_not_a_full_refresh(
    db: psycopg.Connection, mongo: Any, mongo_admin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 6)])
    with streaming("event_logs") as figures:
        # the next getMore of the stream is answered as if the oplog had lost its history
        mongo_admin.admin.command(
            {"configureFailPoint": "failCommand", "mode": {"times": 1},
             "data": {"failCommands": ["getMore"], "errorCode": 286}}
        )  # fmt: skip
        mongo.event_logs.delete_one({"event_id": "evt_00001"})
        mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(6, 9)])
        wait_for(lambda: figures["event_logs"].heals == 1, what="the heal")
        wait_for(lambda: equal("event_logs"), what="MongoDB = PostgreSQL after healing")
        mongo.event_logs.insert_one(shop_docs.event_log(9))  # and it follows again
        wait_for(lambda: equal("event_logs"), what="MongoDB = PostgreSQL after the heal")
    position = load_position(db, "event_logs")
    assert position is not None and position.heals == 1 and position.last_heal_at
    assert "ChangeStreamHistoryLost" in (position.last_error or "")
    assert db.execute("SELECT count(*) FROM etl.refresh_requests").fetchone() == (0,)
    catch_ups = db.execute(
        "SELECT full_refresh FROM etl.asset_runs WHERE asset = 'event_logs'"
        " AND run_id NOT LIKE 'stream-%%' ORDER BY started_at"
    ).fetchall()
    assert catch_ups == [(False,), (False,)]  # the first load, then the heal: incremental
    from typer.testing import CliRunner

    from etl.cli import app

    said = " ".join(CliRunner().invoke(app, ["status"]).output.split())
    assert "event_logs: stream stopped" in said and "healed 1x" in said


def test_a_quiet_collection_advances_its_stored_token(db: psycopg.Connection, mongo: Any) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(1)])
    mongo.support_tickets.insert_many([shop_docs.support_ticket(1)])
    with streaming("event_logs support_tickets"):
        wait_for(lambda: load_position(db, "support_tickets").resume_token is not None)  # type: ignore[union-attr]
        quiet = load_position(db, "support_tickets")
        assert quiet is not None
        for i in range(2, 40):  # only the other collection changes
            mongo.event_logs.insert_one(shop_docs.event_log(i))
            time.sleep(0.05)
        wait_for(
            lambda: load_position(db, "support_tickets").resume_token != quiet.resume_token,  # type: ignore[union-attr]
            timeout=30,
            what="the quiet collection's token to move",
        )
    assert load_position(db, "support_tickets").events == 0  # type: ignore[union-attr]


def test_the_stream_holds_the_asset_against_batch_runs_and_the_dag(
    db: psycopg.Connection, mongo: Any
) -> None:
    from dags.tasks import AssetTasks

    mongo.event_logs.insert_many([shop_docs.event_log(1)])
    impatient = get_settings().model_copy(update={"lock_timeout": 0.5})
    with streaming("event_logs"):
        with pytest.raises(AssetLocked, match="event_logs"):
            defs.materialize("event_logs", settings=impatient)
        done = AssetTasks(defs).run_asset(
            "event_logs", params={}, dag_run=SimpleNamespace(run_id="manual__held")
        )
        assert done == {"held_by_stream": True}
        assert load_position(db, "event_logs").live  # type: ignore[union-attr]
    assert defs.materialize("event_logs", settings=impatient).ok  # released when it stops


def test_kill_9_then_restart_gives_the_tables_a_clean_load_gives(
    db: psycopg.Connection, mongo: Any
) -> None:
    """Killed at once (during its first load, a partitioned snapshot) while writes go on: the
    restart resumes the snapshot, catches up past it and follows; nothing lost or doubled."""
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 21)])
    command = [sys.executable, "-m", "etl", "stream", "event_logs", "--max-wait", "0.2"]
    env = dict(os.environ)
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: (p := load_position(db, "event_logs")) is not None and p.live,
                 timeout=60, what="the stream to start")  # fmt: skip
        for i in range(21, 200):  # writes go on while it dies
            mongo.event_logs.insert_one(shop_docs.event_log(i))
            if i % 10 == 0:
                mongo.event_logs.delete_one({"event_id": f"evt_{i - 5:05d}"})
            if i == 120:
                first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    again = subprocess.run([*command, "--for", "8"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    (result,) = reconcile_assets([defs.graph.assets["event_logs"]])
    assert result.ok, (result.summary(), again.stdout[-1500:])
    streamed = contents(db)
    truncate_all(db)
    assert defs.materialize("event_logs").ok
    assert contents(db) == streamed


def test_an_update_whose_document_is_gone_and_an_event_too_large_lose_nothing(
    db: psycopg.Connection, mongo: Any, mongo_admin: Any
) -> None:
    """One event a batch: an update read after its document was deleted carries no document
    (its rows go at once); an event the server cannot carry (over 16 MB with its document, here
    a fail point answering with BSONObjectTooLarge) switches the stream to keys only."""
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 6)])
    one_by_one = dataclasses.replace(FAST, batch_size=1)
    with streaming("event_logs", one_by_one):
        pass  # loaded, position stored
    mongo.event_logs.update_one({"event_id": "evt_00001"}, {"$set": {"updated_at": LATER}})
    mongo.event_logs.delete_one({"event_id": "evt_00001"})
    with streaming("event_logs", one_by_one) as figures:
        wait_for(lambda: figures["event_logs"].events >= 2, what="the update and the delete")
        assert figures["event_logs"].deleted == 1  # by the update that found no document
        mongo_admin.admin.command(
            {"configureFailPoint": "failCommand", "mode": {"times": 1},
             "data": {"failCommands": ["getMore"], "errorCode": 10334}}
        )  # fmt: skip
        mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(6, 9)])
        mongo.event_logs.update_one({"event_id": "evt_00002"}, {"$set": {"updated_at": LATER}})
        wait_for(lambda: equal("event_logs"), what="MongoDB = PostgreSQL, keys only")
        assert figures["event_logs"].keys_only  # the fallback took over
        assert figures["event_logs"].heals == 0  # not a lost position: nothing re-read
    assert db.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (7,)


def test_a_dropped_collection_is_healed_not_fatal(db: psycopg.Connection, mongo: Any) -> None:
    """A drop ends a change stream (drop, invalidate): healed like a lost position, so the
    rows of the dropped documents go (the deletes scan) and the new collection is followed."""
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 4)])
    with streaming("event_logs") as figures:
        mongo.event_logs.drop()
        wait_for(lambda: figures["event_logs"].heals == 1, what="the heal after the drop")
        mongo.event_logs.insert_one(shop_docs.event_log(7))
        wait_for(lambda: equal("event_logs"), what="MongoDB = PostgreSQL after the drop")
    assert db.execute("SELECT event_id FROM shop.event_logs").fetchall() == [("evt_00007",)]
    position = load_position(db, "event_logs")
    assert position is not None and "drop" in (position.last_error or "")
