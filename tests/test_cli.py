"""`python -m etl`: the commands people type, their output and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
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
