"""Partitioned snapshots: the same tables as one reader, resumable after kill -9, and changes
made while ranges are read are all right after the next incremental run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shop_docs
from bson import ObjectId
from conftest import truncate_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.errors import BulkWriteError
from test_crashes_and_errors import contents

from etl.definitions import defs
from etl.engine.snapshots.mongo_ranges import MongoRanges
from etl.services.mongo import read_collection

ROOT = Path(__file__).resolve().parents[1]
PARTITIONED = "user_sessions event_logs search_queries"


def watermarks(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT asset, cursor_value, last_id FROM etl.watermarks ORDER BY asset"
    ).fetchall()


def odd_ids(mongo: Any) -> None:
    """Documents whose `_id` is not an ObjectId (they sort apart: type bracketing)."""
    base = 900
    for offset, _id in enumerate([7, 7.5, "77", "zz", {"k": 1}, True]):
        mongo.event_logs.insert_one(shop_docs.event_log(base + offset, _id=_id))


def test_a_partitioned_load_equals_a_single_process_load(
    db: psycopg.Connection, mongo: Any
) -> None:
    from generator.shop import write_once

    write_once(mongo, 150, seed=5, dirty=0.15)
    odd_ids(mongo)
    assert defs.materialize(PARTITIONED, partitions=1).ok
    single, single_marks = contents(db), watermarks(db)
    inventory = "SELECT asset, path, bson_type, documents FROM etl.field_inventory ORDER BY 1,2,3"
    single_inventory = db.execute(inventory).fetchall()
    truncate_all(db)
    run = defs.materialize(PARTITIONED, partitions=4, workers=2)
    assert run.ok, run.outcomes
    assert contents(db) == single  # every table, every column, the same rejects
    assert watermarks(db) == single_marks
    assert db.execute(inventory).fetchall() == single_inventory
    ranges = db.execute(
        "SELECT s.asset, count(*), sum(r.documents_read), bool_and(r.status = 'done') "
        "FROM etl.snapshots s JOIN etl.snapshot_ranges r USING (snapshot_id) GROUP BY 1"
    ).fetchall()
    expected = {name: mongo[name].count_documents({}) for name in PARTITIONED.split()}
    assert {a: (n, read, done) for a, n, read, done in ranges} == {
        a: (4, expected[a], True) for a in expected
    }
    # a full refresh in ranges over loaded tables: nothing changes, deletes are found
    mongo.event_logs.delete_one({"_id": "zz"})
    refresh = defs.materialize("event_logs", full_refresh=True, partitions=3, workers=2)
    assert refresh["event_logs"].result.rows_deleted == 1
    assert refresh["event_logs"].result.documents_unchanged > 0


def test_changes_during_a_snapshot_are_right_after_the_next_incremental_run(
    db: psycopg.Connection, mongo: Any
) -> None:
    docs = [shop_docs.event_log(i, _id=ObjectId(i.to_bytes(12, "big"))) for i in range(1, 41)]
    mongo.event_logs.insert_many(docs)
    snapshot = defs.plan_snapshot("event_logs", run_id="snap", partitions=4)
    assert snapshot is not None and len(snapshot.ranges) == 4
    defs.load_snapshot_range("event_logs", snapshot.snapshot_id, 0)  # range 0 read; 1-3 not yet
    later = shop_docs.T0 + timedelta(hours=2)  # the site keeps writing meanwhile
    first, last = docs[0]["_id"], docs[-1]["_id"]
    mongo.event_logs.update_one({"_id": first}, {"$set": {"event_type": "logout",
                                                          "updated_at": later}})  # fmt: skip
    mongo.event_logs.update_one({"_id": last}, {"$set": {"event_type": "logout",
                                                         "updated_at": later}})  # fmt: skip
    mongo.event_logs.delete_many({"_id": {"$in": [docs[1]["_id"], docs[-2]["_id"]]}})
    mongo.event_logs.insert_one(shop_docs.event_log(99, updated_at=later))
    finished = defs.materialize("event_logs")  # loads ranges 1-3, then finishes
    assert finished.ok, finished.outcomes
    # a range task scheduled before another run finished the snapshot has nothing left to do
    assert defs.load_snapshot_range("event_logs", snapshot.snapshot_id, 2).documents_read == 0
    after = defs.materialize("event_logs")  # the next incremental run
    assert after.ok and after["event_logs"].result.rows_deleted == 1  # range 0's deleted doc
    now = contents(db)
    truncate_all(db)
    assert defs.materialize("event_logs", partitions=1).ok
    assert now == contents(db)  # = a clean single load of the collection as it is now
    types = dict(db.execute("SELECT source_id, event_type FROM shop.event_logs").fetchall())
    assert types[str(first)] == types[str(last)] == "logout"
    assert len(types) == 39


def _range_rows(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT index, status, checkpoint IS NOT NULL, worker FROM etl.snapshot_ranges "
        "ORDER BY index"
    ).fetchall()


def _wait_for(db: psycopg.Connection, proc: subprocess.Popen[bytes], query: str) -> Any:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        row = db.execute(query).fetchone()
        if row is not None:
            return row
        time.sleep(0.02)
    raise AssertionError(f"never saw: {query} (exit {proc.poll()})")


@pytest.mark.parametrize("victim", ["one worker", "the whole run"])
def test_kill_9_then_the_snapshot_resumes_and_loads_nothing_twice(
    db: psycopg.Connection, mongo: Any, migrated: str, victim: str
) -> None:
    from generator.shop import write_once

    write_once(mongo, 400, seed=6, dirty=0.1)
    total = mongo.user_sessions.count_documents({})
    assert defs.materialize("user_sessions", partitions=1).ok
    clean = contents(db)
    truncate_all(db)
    env = {**os.environ, "POSTGRES_URL": migrated, "ETL_BATCH_SIZE": "7"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl", "materialize", "user_sessions", "--partitions", "4",
         "--workers", "2"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # a range part-way through, with a checkpoint committed and rows after it still to come
    index, worker = _wait_for(
        db, proc,
        "SELECT index, worker FROM etl.snapshot_ranges WHERE status = 'running' "
        "AND documents_read >= 14 AND documents_read < coalesce(expected, 0) - 14 LIMIT 1",
    )  # fmt: skip
    pid = int(worker.rsplit(":", 1)[1])
    os.kill(pid if victim == "one worker" else proc.pid, signal.SIGKILL)
    code = proc.wait(timeout=120)
    if victim == "one worker":
        assert code == 0  # the other worker (or the run itself) took the range over
        attempts = db.execute(
            "SELECT attempts FROM etl.snapshot_ranges WHERE index = %s", [index]
        ).fetchone()
        assert attempts == (2,)
    else:
        assert code == -signal.SIGKILL
        time.sleep(0.5)  # its workers die with it (PR_SET_PDEATHSIG)
        done_before = {r[0] for r in _range_rows(db) if r[1] == "done"}
        shown = status_output(migrated)
        assert "user_sessions: snapshot " in shown
        assert "the next run of the asset resumes it" in shown
        resumed = defs.materialize("user_sessions")  # an ordinary run resumes the snapshot
        assert resumed.ok, resumed.outcomes
        kept = db.execute(
            "SELECT index FROM etl.snapshot_ranges WHERE attempts = 1 AND status = 'done'"
        ).fetchall()
        assert done_before <= {i for (i,) in kept}  # finished ranges were not loaded again
    (read,) = db.execute("SELECT sum(documents_read) FROM etl.snapshot_ranges").fetchone()
    assert read == total  # committed counts: no document loaded twice
    assert db.execute("SELECT status FROM etl.snapshots").fetchall() == [("finished",)]
    assert contents(db) == clean


def status_output(pg_url: str) -> str:
    env = {**os.environ, "POSTGRES_URL": pg_url, "COLUMNS": "200", "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "etl", "status"], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


IDS = st.one_of(
    st.builds(lambda b: ObjectId(b), st.binary(min_size=12, max_size=12)),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(ids=st.lists(IDS, min_size=1, max_size=40), parts=st.integers(1, 6))
def test_ranges_cover_every_id_once_whatever_the_types(mongo: Any, ids: list[Any], parts: int):
    mongo.drop_collection("ids")
    try:  # the server decides which values are the same _id (7 == 7.0)
        mongo.ids.insert_many([{"_id": i} for i in ids], ordered=False)
    except BulkWriteError as exc:
        assert {e["code"] for e in exc.details["writeErrors"]} == {11000}
    distinct = [d["_id"] for d in mongo.ids.find()]
    source = MongoRanges(mongo)
    ranges = source.split("ids", parts)
    assert [r.index for r in ranges] == list(range(len(ranges))) and len(ranges) <= parts
    seen: list[Any] = []
    for r in ranges:
        got = [d["_id"] for d in source.read("ids", r, None)]
        assert len(got) == r.expected
        seen += got
    assert len(seen) == len(distinct)
    assert sorted(map(repr, seen)) == sorted(map(repr, distinct))
    coll = read_collection(mongo, "ids")
    assert coll.count_documents({}) == len(distinct)


def test_a_split_uses_bucketauto_over_one_id_type(mongo: Any) -> None:
    ids: list[Any] = [ObjectId(i.to_bytes(12, "big")) for i in range(1, 101)] + ["a", 7]
    mongo.ids.insert_many([{"_id": i} for i in ids])
    source = MongoRanges(mongo)
    ranges = source.split("ids", 4)
    assert [r.index for r in ranges] == [0, 1, 2, 3]
    assert [r.expected for r in ranges] == [25 + 2, 25, 25, 25]  # other types: range 0
    assert ranges[1].lower == ranges[0].upper == ids[25] and ranges[3].upper is None
    assert all(isinstance(r.lower, ObjectId) for r in ranges[1:])
    read = [[d["_id"] for d in source.read("ids", r, None)] for r in ranges]
    assert [len(part) for part in read] == [27, 25, 25, 25]
    assert set(map(repr, read[0])) >= {repr("a"), repr(7)}
