"""kill -9 at random moments, PostgreSQL going away mid-run, and configuration errors: through
the real CLI in a subprocess, as a user (or a scheduler) runs it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import truncate_all
from psycopg import sql

from etl.definitions import defs
from etl.engine import TableAsset

SHOP = "group:shop"
ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, **env: str) -> list[str]:
    return [sys.executable, "-m", "etl", *args]


def child_env(pg_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "POSTGRES_URL": pg_url, **extra}


def contents(db: psycopg.Connection) -> dict[str, list[str]]:
    """Every shop table's rows (without the load-time stamp) and the outstanding rejects (the
    latest reject of each document not loaded since; older ones are history)."""
    tables = [
        r[0]
        for r in db.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname = 'shop' ORDER BY 1"
        )
    ]
    out = {}
    for table in tables:
        rows = db.execute(f"SELECT to_jsonb(t) - 'loaded_at' FROM {table} t").fetchall()
        out[table] = sorted(repr(r[0]) for r in rows)
    outstanding = []
    for asset in defs.graph.assets.values():
        if not isinstance(asset, TableAsset) or asset.group != "shop":
            continue
        outstanding += db.execute(
            sql.SQL(
                "SELECT r.source_id, r.reasons, r.code FROM (SELECT DISTINCT ON (source_id) * "
                " FROM etl.rejects WHERE asset = %s ORDER BY source_id, rejected_at DESC) r"
                " WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE t.source_id = r.source_id"
                "   AND t.loaded_at > r.rejected_at)"
            ).format(sql.Identifier(*asset.tables[0].split("."))),
            [asset.name],
        ).fetchall()
    out["outstanding rejects"] = sorted(map(repr, outstanding))
    return out


def finished_assets(
    db: psycopg.Connection, since: Any, *, at_least: int, proc: subprocess.Popen[bytes]
) -> None:
    """Wait until the child run has finished `at_least` assets (or has ended)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        row = db.execute(
            "SELECT count(*) FROM etl.asset_runs WHERE started_at >= %s AND status <> 'running'",
            [since],
        ).fetchone()
        if row and row[0] >= at_least:
            return
        time.sleep(0.01)


def clean_load(db: psycopg.Connection) -> dict[str, list[str]]:
    truncate_all(db)
    assert defs.materialize(SHOP).ok
    return contents(db)


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_at_random_moments_then_a_normal_run_equals_a_clean_load(
    db: psycopg.Connection, mongo: Any, migrated: str, seed: int
) -> None:
    from generator.shop import live_updates, write_once

    rng = random.Random(seed)
    write_once(mongo, 120, seed=seed, dirty=0.1)
    env = child_env(migrated, ETL_BATCH_SIZE="5")
    phases = [("first load", []), ("incremental", []), ("full refresh", ["--full-refresh"])]
    for phase, flags in phases:
        if phase == "first load":
            truncate_all(db)
        if phase == "incremental":
            live_updates(mongo, 150, seed=seed)
        proc = subprocess.Popen(
            cli("materialize", SHOP, *flags), env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # somewhere in the loads: after a random number of assets finished, a little later
        (started,) = db.execute("SELECT clock_timestamp()").fetchone()  # type: ignore[misc]
        finished_assets(db, started, at_least=rng.randrange(0, 4), proc=proc)
        time.sleep(rng.uniform(0, 0.1))
        assert proc.poll() is None, f"{phase}: the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert defs.materialize(SHOP, full_refresh=bool(flags)).ok, phase
        inventory = (
            "SELECT asset, path, bson_type, documents FROM etl.field_inventory ORDER BY 1, 2, 3"
        )
        if phase == "first load":  # the drift inventory commits with the rows: no double counts
            recovered_inventory = db.execute(inventory).fetchall()
        recovered = contents(db)
        running = db.execute("SELECT count(*) FROM etl.asset_runs WHERE status = 'running'")
        assert running.fetchone() == (0,), phase
        assert recovered == clean_load(db), phase
        if phase == "first load":
            assert recovered_inventory == db.execute(inventory).fetchall()
        # the clean load is the state the next phase starts from, with fresh watermarks


def test_losing_postgresql_mid_run_is_one_line_and_a_non_zero_exit(
    db: psycopg.Connection, mongo: Any, migrated: str
) -> None:
    from generator.shop import write_once

    write_once(mongo, 400, seed=3)
    truncate_all(db)
    env = child_env(migrated, ETL_BATCH_SIZE="3", PGAPPNAME="etl-lost-test")
    proc = subprocess.Popen(
        cli("materialize", SHOP), env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    terminated = 0
    while proc.poll() is None and time.monotonic() < deadline:  # from its first connection on
        ended = db.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'etl-lost-test'"
        ).fetchone()
        terminated += ended[0] if ended else 0
        time.sleep(0.02)
    assert terminated > 0
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: lost the connection to PostgreSQL at"), stderr


SECRET = "hunter2"
CONFIG_ERRORS = [
    ({"POSTGRES_URL": f"mysql://etl:{SECRET}@db/wh"}, ["status"], "POSTGRES_URL"),
    ({"POSTGRES_URL": f"postgresql://etl:{SECRET}@db:port/wh"}, ["status"], "POSTGRES_URL"),
    ({"MONGO_URI": f"http://etl:{SECRET}@mongo"}, ["materialize", "event_logs"], "MONGO_URI"),
    (
        {"MONGO_URI": f"mongodb://etl:{SECRET}@127.0.0.1:1/?serverSelectionTimeoutMS=500"},
        ["materialize", "event_logs"],
        "cannot reach MongoDB at mongodb://etl:***@127.0.0.1:1/",
    ),
    ({"ETL_BATCH_SIZE": "0"}, ["materialize"], "ETL_BATCH_SIZE"),
    ({"ETL_BATCH_SIZE": "lots"}, ["status"], "ETL_BATCH_SIZE"),
    ({"ETL_LOCK_TIMEOUT": "-1"}, ["materialize"], "ETL_LOCK_TIMEOUT"),
    ({}, ["materialize", ""], "empty selection"),
    ({}, ["materialize", " , "], "empty selection"),
]


@pytest.mark.parametrize(("env", "args", "expected"), CONFIG_ERRORS)
def test_configuration_errors_are_one_line_exit_2_password_masked(
    migrated: str, env: dict[str, str], args: list[str], expected: str
) -> None:
    proc = subprocess.run(
        cli(*args),
        env=child_env(migrated, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert SECRET not in proc.stderr + proc.stdout


def test_losing_mongodb_mid_refresh_stops_the_run_and_the_next_run_finishes_the_refresh(
    db: psycopg.Connection, migrated: str, tmp_path: Path
) -> None:
    """The MongoDB server killed during `materialize group:shop --full-refresh`: one line,
    exit 2, no later asset attempted; the refresh asked for is named by `status` and finished
    by the next plain run (a server of its own, so the session's server is not disturbed)."""
    import pymongo

    from etl.cli.inspect import pending_refreshes
    from etl.engine.observe.reconcile import reconcile_assets
    from etl.services import mongo_server
    from etl.services.mongo import close_clients
    from etl.settings import Settings
    from generator.shop import write_once

    root = tmp_path / "mongo"
    state = mongo_server.ensure_server(root, tmp_path / "secrets")
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(state.uri("generator"))
    write_once(client.raw, 200, seed=4)
    settings = Settings(MONGO_URI=state.uri("etl"), MONGO_DB="raw", POSTGRES_URL=migrated)
    assert defs.materialize(SHOP, settings=settings).ok
    # documents only a full refresh reads: their cursor is older than the watermark
    client.raw.event_logs.update_many({}, {"$set": {"details.note": "rewritten"}})
    client.close()
    close_clients()  # this process's client to the server about to die (closing it later waits)
    (started,) = db.execute("SELECT clock_timestamp()").fetchone()  # type: ignore[misc]
    env = child_env(migrated, MONGO_URI=state.uri("etl"), MONGO_DB="raw", ETL_BATCH_SIZE="4")
    proc = subprocess.Popen(
        cli("materialize", SHOP, "--full-refresh"), env=env,
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    finished_assets(db, started, at_least=1, proc=proc)
    assert proc.poll() is None, "the run ended before the server could be killed"
    mongo_server.kill_server(root)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: lost the connection to MongoDB at mongodb://"), stderr
    runs = db.execute(
        "SELECT status, count(*) FROM etl.asset_runs WHERE started_at >= %s GROUP BY 1",
        [started],
    ).fetchall()
    assert dict(runs).get("failed") == 1 and "running" not in dict(runs), runs
    attempted = sum(n for _, n in runs)
    shop_tables = [a for a in defs.graph.assets.values() if isinstance(a, TableAsset)]
    assert attempted < len([a for a in shop_tables if a.group == "shop"])  # the rest waited
    assert any("the full refresh asked for by run" in line for line in pending_refreshes(db))
    state = mongo_server.ensure_server(root, tmp_path / "secrets")  # back, on another port
    settings = Settings(MONGO_URI=state.uri("etl"), MONGO_DB="raw", POSTGRES_URL=migrated)
    assert defs.materialize(SHOP, settings=settings).ok  # a plain run finishes the refresh
    shop = [a for a in shop_tables if a.group == "shop"]
    assert [r.summary() for r in reconcile_assets(shop, settings) if not r.ok] == []
    assert db.execute("SELECT count(*) FROM etl.refresh_requests").fetchone() == (0,)
    close_clients()
    mongo_server.stop_server(root)
    mongo_server.stop_server(root)
