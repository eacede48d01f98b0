"""Marts (SQL assets): atomic full builds, the grain check, incremental partition rebuilds."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import shop_docs

from etl.definitions import defs
from etl.engine import AssetGraph, Incremental, SqlAsset, materialize
from etl.engine.marts.build import definition_hash

SESSIONS_PER_DAY = """
SELECT (start_time AT TIME ZONE 'UTC')::date AS day, count(*) AS sessions
FROM shop.user_sessions
WHERE %(partitions)s::date[] IS NULL OR (start_time AT TIME ZONE 'UTC')::date = ANY(%(partitions)s)
GROUP BY 1
"""
CHANGED_DAYS = """
SELECT DISTINCT (start_time AT TIME ZONE 'UTC')::date FROM shop.user_sessions
WHERE loaded_at >= %(since)s
"""


def graph_with(*marts: SqlAsset) -> AssetGraph:
    return AssetGraph.build([defs.graph.assets["user_sessions"], *marts])


def per_day(incremental: bool = True, sql: str = SESSIONS_PER_DAY) -> SqlAsset:
    return SqlAsset(
        name="sessions_per_day",
        group="test",
        deps=("user_sessions",),
        sql=sql,
        schema="test_dwh",
        key=("day",),
        incremental=Incremental("day", CHANGED_DAYS) if incremental else None,
    )


def contents(db: psycopg.Connection, table: str = "test_dwh.sessions_per_day") -> list[Any]:
    return db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest.fixture
def scratch(db: psycopg.Connection) -> Any:
    """A schema of its own for the test marts, made by an admin for the loader (which may
    create tables in it, not schemas)."""
    db.execute("DROP SCHEMA IF EXISTS test_dwh CASCADE")
    db.execute("CREATE SCHEMA test_dwh AUTHORIZATION etl_loader")
    yield db
    db.execute("DROP SCHEMA IF EXISTS test_dwh CASCADE")


def session(n: int, day: int) -> dict[str, Any]:
    doc = shop_docs.user_session(n)
    shift = shop_docs.T0.replace(day=day) - doc["start_time"]
    doc["start_time"] += shift
    doc["end_time"] += shift
    for action in doc["actions"]:
        action["time"] += shift
    return doc


def test_full_build_is_atomic_and_idempotent(scratch: Any, mongo: Any) -> None:
    mongo.user_sessions.insert_many([session(i, 1 + i % 3) for i in range(9)])
    graph = graph_with(per_day(incremental=False))
    first = materialize("*", graph=graph)
    assert first.ok, first.outcomes
    built = contents(scratch)
    assert [count for _, count in built] == [3, 3, 3]
    assert materialize("sessions_per_day", graph=graph).ok
    assert contents(scratch) == built
    comment = scratch.execute("SELECT obj_description('test_dwh.sessions_per_day'::regclass)")
    assert comment.fetchone()[0].endswith(f"[definition {definition_hash(per_day(False))}]")


def test_a_select_that_fans_out_fails_and_keeps_the_previous_table(
    scratch: Any, mongo: Any
) -> None:
    mongo.user_sessions.insert_many([session(i, 2) for i in range(3)])
    good = per_day(incremental=False)
    assert materialize("*", graph=graph_with(good)).ok
    before = contents(scratch)
    fan_out = SESSIONS_PER_DAY.replace(
        "FROM shop.user_sessions", "FROM shop.user_sessions, (VALUES (1), (2)) AS v(x)"
    ).replace("GROUP BY 1", "GROUP BY 1, v.x")
    broken = materialize("sessions_per_day", graph=graph_with(per_day(False, fan_out)))
    outcome = broken["sessions_per_day"]
    assert outcome.status == "failed"
    assert "breaks the grain (day)" in outcome.error and "is duplicated" in outcome.error
    assert contents(scratch) == before


def test_incremental_build_rebuilds_only_changed_partitions(scratch: Any, mongo: Any) -> None:
    mongo.user_sessions.insert_many([session(i, 1 + i % 3) for i in range(9)])
    graph = graph_with(per_day())
    first = materialize("*", graph=graph)
    assert first["sessions_per_day"].result.note == "full build"
    # a day-2 row edited behind the engine's back shows which partitions get rebuilt
    scratch.execute("UPDATE test_dwh.sessions_per_day SET sessions = 99 WHERE day = '2026-11-01'")
    scratch.execute("UPDATE test_dwh.sessions_per_day SET sessions = 77 WHERE day = '2026-11-03'")
    mongo.user_sessions.insert_many([session(100, 3), session(101, 4)])
    second = materialize("*", graph=graph)
    mart = second["sessions_per_day"].result
    assert mart.note == "2 partition(s) rebuilt"
    assert mart.rows_written == {"test_dwh.sessions_per_day": 2}
    days = {day.day: count for day, count in contents(scratch)}
    assert days == {1: 99, 2: 3, 3: 4, 4: 1}  # day 1 untouched, days 3 and 4 recomputed
    third = materialize("sessions_per_day", graph=graph)
    assert third["sessions_per_day"].result.note == "0 partition(s) rebuilt"


def test_full_refresh_or_a_new_definition_rebuilds_everything(scratch: Any, mongo: Any) -> None:
    mongo.user_sessions.insert_many([session(i, 1 + i % 2) for i in range(4)])
    graph = graph_with(per_day())
    assert materialize("*", graph=graph).ok
    scratch.execute("UPDATE test_dwh.sessions_per_day SET sessions = 99")
    refreshed = materialize("sessions_per_day", graph=graph, full_refresh=True)
    assert refreshed["sessions_per_day"].result.note == "full build"
    assert [count for _, count in contents(scratch)] == [2, 2]
    scratch.execute("UPDATE test_dwh.sessions_per_day SET sessions = 99")
    changed = per_day(sql=SESSIONS_PER_DAY.replace("count(*)", "count(*)::int"))
    rebuilt = materialize("sessions_per_day", graph=graph_with(changed))
    assert rebuilt["sessions_per_day"].result.note == "full build"
    assert [count for _, count in contents(scratch)] == [2, 2]


def test_an_upstream_full_refresh_that_deleted_rows_forces_a_full_build(
    scratch: Any, mongo: Any
) -> None:
    mongo.user_sessions.insert_many([session(i, 1 + i % 2) for i in range(4)])
    graph = graph_with(per_day())
    assert materialize("*", graph=graph).ok
    mongo.user_sessions.delete_many({"session_id": shop_docs.user_session(1)["session_id"]})
    summary = materialize("*", graph=graph, full_refresh=True)
    assert summary["user_sessions"].result.rows_deleted == 1
    assert [count for _, count in contents(scratch)] == [2, 1]
    assert materialize("user_sessions", graph=graph, full_refresh=True).ok
    incremental = materialize("sessions_per_day", graph=graph)
    assert incremental["sessions_per_day"].result.note == "0 partition(s) rebuilt"


def test_a_full_mart_whose_inputs_did_not_change_is_skipped_and_says_so(
    scratch: Any, mongo: Any
) -> None:
    mongo.user_sessions.insert_many([session(i, 1 + i % 3) for i in range(6)])
    graph = graph_with(per_day(incremental=False))
    first = materialize("*", graph=graph)
    assert first["sessions_per_day"].result.note == "full build"
    scratch.execute("UPDATE test_dwh.sessions_per_day SET sessions = 99")  # a marker

    again = materialize("*", graph=graph)  # nothing new in MongoDB
    mart = again["sessions_per_day"].result
    assert mart.note == f"skipped: inputs unchanged since the build of run {first.run_id}"
    assert mart.rows_written == {}
    assert {count for _, count in contents(scratch)} == {99}  # not rebuilt
    (note,) = scratch.execute(
        "SELECT note FROM etl.asset_runs WHERE run_id = %s AND asset = 'sessions_per_day'",
        [again.run_id],
    ).fetchone()
    assert note == mart.note

    mongo.user_sessions.insert_many([session(50, 1)])  # an input changes: rebuilt
    changed = materialize("*", graph=graph)
    assert changed["sessions_per_day"].result.note == "full build"
    assert [count for _, count in contents(scratch)] == [3, 2, 2]

    mongo.user_sessions.delete_one({"session_id": shop_docs.user_session(50)["session_id"]})
    deleted = materialize("*", graph=graph)  # an incremental run notices the delete
    assert deleted["user_sessions"].result.rows_deleted == 1
    assert deleted["sessions_per_day"].result.note == "full build"
    assert [count for _, count in contents(scratch)] == [2, 2, 2]

    # a run of the input that died may have committed batches its record does not show
    scratch.execute(
        "INSERT INTO etl.asset_runs (run_id, asset, status, full_refresh, started_at,"
        " documents_read, documents_unchanged, rows_written, rows_deleted, rejects)"
        " VALUES ('dead', 'user_sessions', 'interrupted', false, now(), 0, 0, '{}', 0, 0)"
    )
    after_crash = materialize("sessions_per_day", graph=graph)
    assert after_crash["sessions_per_day"].result.note == "full build"


def test_an_incremental_deletion_upstream_forces_a_full_build(scratch: Any, mongo: Any) -> None:
    mongo.user_sessions.insert_many([session(i, 1 + i % 2) for i in range(4)])
    graph = graph_with(per_day())
    assert materialize("*", graph=graph).ok
    mongo.user_sessions.delete_many({"session_id": shop_docs.user_session(1)["session_id"]})
    summary = materialize("*", graph=graph)  # no --full-refresh
    assert summary["user_sessions"].result.rows_deleted == 1
    assert summary["sessions_per_day"].result.note == "full build"
    assert [count for _, count in contents(scratch)] == [2, 1]
