"""`python -m etl bench` runs the real paths in a scratch database and reports sane figures."""

from __future__ import annotations

from typing import Any

import psycopg

from etl.bench.run import run_bench
from etl.services.mongo import mongo_client
from etl.settings import get_settings


def test_bench_small_run_reports_every_pass_and_the_mart(
    pg_url: str, db: Any, mongo_url: str
) -> None:
    result = run_bench(3_000, batch_size=500)
    names = [p.name for p in result.passes]
    assert names == [
        "plain COPY (ceiling)",
        "first load",
        "second run, unchanged",
        "first load, no field inventory",
    ]
    assert all(p.documents == 3_000 and p.seconds > 0 for p in result.passes)
    ceiling, first, second, without = result.passes
    assert first.rows == ceiling.rows == without.rows > 3_000  # the rows of the plain COPY
    assert -1 < result.figures()["field_inventory_cost"] < 1
    assert result.reconcile_s is not None and result.reconcile_s > 0
    assert second.rows == 0  # nothing changed: nothing rewritten
    mart = result.mart
    assert mart is not None and mart.rows > 0
    assert 0 < mart.one_day_rows < mart.rows  # only the reloaded day was rebuilt
    figures = result.figures()
    assert figures["mart"]["rows"] == mart.rows and figures["peak_rss_mb"] > 0
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the scratch database is gone
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'etl_bench_%'")
        assert left.fetchone() == (0,)
    # the same documents through the embedded MongoDB server and the real reader
    from_mongo = result.from_mongo
    assert from_mongo is not None
    assert from_mongo.load.documents == 3_000 and from_mongo.load.rows == first.rows
    assert from_mongo.server_read_s > 0 and from_mongo.decode_s > 0 and from_mongo.insert_s > 0
    assert figures["from_mongo"]["docs_per_s"] > 0
    # on the embedded default it ran on a scratch server of its own, removed afterwards
    assert not list(get_settings().local_dir.resolve().glob("etl_bench_*"))
    names = mongo_client(login="admin").list_database_names()
    assert not [n for n in names if n.startswith("etl_bench_")]


def test_a_partitioned_pass_loads_the_same_rows_and_reports_its_workers(
    pg_url: str, db: Any
) -> None:
    result = run_bench(2_000, batch_size=300, partitions=3, workers=2, from_mongo=False)
    assert result.from_mongo is None
    part = result.partitioned
    assert part is not None and part.documents == 2_000
    assert part.rows == result.passes[1].rows  # the same rows as the single-process load
    figures = result.figures()["partitioned"]
    assert figures["partitions"] == 3 and figures["workers"] == 2
    assert figures["speedup_vs_single_process"] > 0
    assert figures["worker_peak_rss_mb"] is not None and figures["worker_peak_rss_mb"] > 0


def test_compare_dlt_without_the_extra_is_one_line_and_exit_2(monkeypatch: Any) -> None:
    import sys

    from typer.testing import CliRunner

    from etl.cli import app

    monkeypatch.setitem(sys.modules, "dlt", None)  # as on a machine without the extra
    result = CliRunner().invoke(app, ["bench", "-n", "10", "--compare", "dlt"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line == "error: the dlt comparison needs the optional extra: pip install -e '.[compare]'"


def test_the_stream_bench_applies_every_event_and_reports_its_lag(
    pg_url: str, db: Any, mongo_url: str
) -> None:
    from etl.bench.stream import run_stream_bench

    burst, steady = run_stream_bench(400, rate=100, seconds=2)
    assert (burst.name, burst.events) == ("burst", 400)  # every insert reached PostgreSQL
    assert burst.events_per_second > 0 and burst.offered_per_second is None
    assert steady.name == "steady" and steady.events >= 100  # inserts and updates, ~2 s of them
    assert steady.offered_per_second is not None and steady.offered_per_second > 0
    assert 0 <= steady.lag_p50_s <= steady.lag_p99_s < 60
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the scratch database is gone
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'etl_bench_%'")
        assert left.fetchone() == (0,)
