"""`python -m etl`: the commands people type, their output and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from typing import Any

import shop_docs
from typer.testing import CliRunner

from etl.cli import app

runner = CliRunner()


def test_materialize_status_and_rejects(db: Any, mongo: Any) -> None:
    mongo.search_queries.insert_many(
        [shop_docs.search_query(i) for i in range(1, 4)]
        + [shop_docs.search_query(9, results_count=-1)]
    )
    result = runner.invoke(app, ["materialize", "search_queries"])
    assert result.exit_code == 0, result.output
    assert "search_queries" in result.output and "success" in result.output

    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0
    rows = {row["asset"]: row for row in json.loads(status.output)}
    assert rows["search_queries"]["status"] == "success"
    assert rows["search_queries"]["rows"] == 3
    assert rows["search_queries"]["rejects"] == 1
    assert rows["user_sessions"]["status"] is None  # never run

    rejects = runner.invoke(app, ["rejects", "search_queries", "--json"])
    (reject,) = json.loads(rejects.output)
    assert reject["reasons"] == ["results_count: -1 is out of range 0.."]
    assert reject["document"]["query_id"] == "Q00009"


def test_bad_selection_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["materialize", "user_sesions"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: unknown asset 'user_sesions' (did you mean 'user_sessions'")


def test_graph_text_and_mermaid() -> None:
    text = runner.invoke(app, ["graph"])
    assert "user_sessions [table] <- mongo:user_sessions => shop.user_sessions" in text.output
    mermaid = runner.invoke(app, ["graph", "--mermaid"])
    assert mermaid.output.startswith("flowchart LR")


def test_unreachable_database_exits_2_with_masked_url() -> None:
    env = {"POSTGRES_URL": "postgresql://etl:hunter2@127.0.0.1:1/wh", "PATH": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "etl", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "cannot reach PostgreSQL at postgresql://etl:***@127.0.0.1:1/wh" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def run_cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "etl", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_help_fits_80_columns_without_type_noise() -> None:
    for args in (["--help"], ["materialize", "--help"], ["status", "--help"]):
        out = run_cli(*args).stdout
        assert out and all(len(line) <= 80 for line in out.splitlines()), args
        assert "<bool>" not in out, args


def test_status_fits_80_columns_and_never_cuts_an_asset_name(db: Any, mongo: Any) -> None:
    from etl.definitions import defs

    mongo.search_queries.insert_many([shop_docs.search_query(1)])
    assert defs.materialize("search_queries").ok
    out = run_cli("status").stdout
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for name in defs.graph.order:  # every name whole, at the start of its line
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "never run" in out and "success" in out


def test_rejects_lists_each_document_once_with_totals_and_iso_json(db: Any, mongo: Any) -> None:
    from etl.definitions import defs

    bad = shop_docs.search_query(9, results_count=-1)
    mongo.search_queries.insert_many([shop_docs.search_query(1), bad])
    assert defs.materialize("search_queries").ok
    assert defs.materialize("search_queries", full_refresh=True).ok  # rejected a second time
    records = db.execute("SELECT count(*) FROM etl.rejects").fetchone()
    assert records == (2,)
    listed = runner.invoke(app, ["rejects", "--json"])
    (reject,) = json.loads(listed.output)
    assert reject["source_id"] == str(bad["_id"])
    datetime.fromisoformat(reject["rejected_at"])  # ISO-8601, with its offset
    assert "T" in reject["rejected_at"]
    shown = run_cli("rejects", columns=120).stdout
    assert (
        "1 of 1 rejected documents, newest first; 1 still outstanding (as status counts them); "
        "2 rejects over all runs" in " ".join(shown.split())
    )
    status = json.loads(runner.invoke(app, ["status", "--json"]).output)
    row = next(r for r in status if r["asset"] == "search_queries")
    assert row["rejects"] == 1
    assert datetime.fromisoformat(row["finished_at"]).tzinfo is not None
