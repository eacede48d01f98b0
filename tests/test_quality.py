"""Great Expectations: suites from the models, the committed project, checkpoints, data docs.

Checkpoints run against the session's embedded PostgreSQL (rows inserted with plain SQL) and a
throwaway copy of `expectations/` (see conftest), so the committed project is never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

import models
from etl.definitions import defs
from etl.engine import Definitions, SqlAsset, asset_check
from etl.quality import (
    build_docs,
    build_suites,
    checked_tables,
    expectations_for,
    run_checkpoint,
    run_checks,
    suites_for_asset,
)
from etl.quality.suites import suite_json
from etl.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
SESSION = (
    "INSERT INTO shop.user_sessions (source_id, source_updated_at, source_hash, session_id,"
    " user_id, start_time, end_time) VALUES (%s, now(), '\\x00', %s, 'U1', %s, %s)"
)


@pytest.fixture(scope="module")
def suites() -> dict[str, Any]:
    return build_suites(defs)


def kwargs_of(table: str, kind: str) -> list[dict[str, Any]]:
    return [
        e.configuration.kwargs for e in expectations_for(table, defs) if e.expectation_type == kind
    ]


def test_every_model_table_has_a_suite(suites: dict[str, Any]) -> None:
    tables = {
        t.fullname for t in models.metadata.sorted_tables if t.schema in ("shop", "aviasales")
    }
    assert {t for t in tables if t.startswith("shop.")} and tables <= set(suites)
    assert all(suites[t].name == t and suites[t].expectations for t in tables)


def test_the_committed_project_matches_the_code(suites: dict[str, Any]) -> None:
    """Fails when rules changed without `python -m etl expectations` being run and committed."""
    project = ROOT / "expectations"
    config = yaml.safe_load((project / "great_expectations.yml").read_text())
    source = config["fluent_datasources"]["warehouse"]
    assert source["connection_string"] == "${GX_WAREHOUSE_URL}"  # never a real URL
    for table, suite in suites.items():
        stored = json.loads(
            (project / "expectations" / f"{table.replace('.', '/')}.json").read_text()
        )
        stored["meta"].pop("great_expectations_version", None)
        assert stored == suite_json(suite), f"{table}: regenerate with python -m etl expectations"
        assert table in source["assets"], table
        for folder in ("checkpoints", "validation_definitions"):
            assert (project / folder / f"{table}.json").exists(), (folder, table)


def test_model_rules_become_expectations() -> None:
    table = "shop.moderation_queue"
    between = {k["column"]: (k["min_value"], k["max_value"]) for k in
               kwargs_of(table, "expect_column_values_to_be_between")}  # fmt: skip
    assert between["rating"] == (1, 5)
    in_set = {k["column"]: set(k["value_set"]) for k in
              kwargs_of(table, "expect_column_values_to_be_in_set")}  # fmt: skip
    assert in_set["moderation_status"] == {"pending", "approved", "rejected"}
    not_null = {k["column"] for k in kwargs_of(table, "expect_column_values_to_not_be_null")}
    assert {"review_id", "user_id", "product_id", "rating", "source_id"} <= not_null
    assert "source_updated_at" not in not_null
    unique = {k["column"] for k in kwargs_of(table, "expect_column_values_to_be_unique")}
    assert unique == {"review_id", "source_id"}
    compound = kwargs_of("shop.session_pages", "expect_compound_columns_to_be_unique")
    assert [k["column_list"] for k in compound] == [["session_id", "position"]]
    natural = [k["column_list"] for k in
               kwargs_of("aviasales.tickets", "expect_compound_columns_to_be_unique")]  # fmt: skip
    assert ["request_id", "airline", "flight_number", "departure_at", "return_at"] in natural
    regex = kwargs_of("shop.products", "expect_column_values_to_match_regex")
    assert {"column": "currency", "regex": "^[A-Z]{3}$"} in regex


def test_each_expectation_carries_its_severity_twice() -> None:
    expectations = expectations_for("shop.moderation_queue", defs)
    pairs = {(e.meta["severity"], str(e.severity.value)) for e in expectations}
    assert pairs == {("blocking", "critical"), ("warning", "warning")}
    assert {e.meta["origin"] for e in expectations} == {"model", "generic", "domain"}


def test_importing_the_package_does_not_import_gx() -> None:
    """The DAG file calls suites_for_asset while Airflow parses it: GX costs ~11 s to import."""
    code = (
        "import sys, etl.quality as q; from etl.definitions import defs; q.checked_tables(defs); "
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_suites_for_asset_keeps_the_asset_order() -> None:
    asset = SimpleNamespace(tables=("shop.user_sessions", "shop.session_pages", "etl.asset_runs"))
    assert suites_for_asset(asset, defs) == ["shop.user_sessions", "shop.session_pages"]


def test_good_rows_pass_and_a_broken_rule_blocks(db: Any, migrated: str) -> None:
    db.execute(SESSION, ["a", "s1", "2026-11-20 10:00Z", "2026-11-20 10:30Z"])
    good = run_checkpoint("shop.user_sessions", defs, url=migrated)
    assert (good.success, good.blocking_failures, good.warnings) == (True, [], [])
    assert good.evaluated == len(expectations_for("shop.user_sessions", defs))

    db.execute(SESSION, ["b", "s2", "2026-11-20 10:00Z", "2026-11-20 09:00Z"])  # ends before start
    bad = run_checkpoint("shop.user_sessions", defs)
    assert bad.success is False and bad.gx_success is False and bad.warnings == []
    assert bad.blocking_failures == ["a session ends at or after it starts [1 unexpected]"]


def test_a_rule_with_a_join_blocks(db: Any) -> None:
    db.execute(
        "INSERT INTO shop.support_tickets (source_id, source_updated_at, source_hash, ticket_id,"
        " user_id, status, issue_type, created_at, updated_at) VALUES"
        " ('t', now(), '\\x00', 'T1', 'U1', 'open', 'payment', now(), now())"
    )
    db.execute(
        "INSERT INTO shop.ticket_messages (ticket_id, position, sender, body, sent_at) VALUES"
        " ('T1', 0, 'user', 'hi', now()), ('T1', 1, 'agent', 'too early', now() - interval '1 d')"
    )
    result = run_checkpoint("shop.ticket_messages", defs)
    assert result.blocking_failures == [
        "no message is sent before its ticket was created [1 unexpected rows]"
    ]


def test_warnings_do_not_block(db: Any) -> None:
    db.execute(
        "INSERT INTO shop.moderation_queue (source_id, source_updated_at, source_hash, review_id,"
        " user_id, product_id, review_text, rating, moderation_status, submitted_at) VALUES"
        " ('r', now() - interval '30 days', '\\x00', 'R1', 'U1', 'P-missing', 'ok', 5,"
        " 'pending', now())"
    )
    result = run_checkpoint("shop.moderation_queue", defs)
    assert result.success is True and result.blocking_failures == []
    assert result.gx_success is False
    assert sorted(result.warnings) == [
        "every referenced product exists in shop.products [1 unexpected rows]",
        "the newest source_updated_at is at most 7 days old (the observed value counts stale"
        " tables: 0 when fresh, 1 when the newest change is older) [1 unexpected rows]",
    ]


def test_a_check_is_declared_against_its_asset_and_a_missing_table_blocks(db: Any) -> None:
    """A check names its asset object; a mart's table that does not exist blocks readably."""
    mart = SqlAsset(name="quality_test_mart", group="t", sql="SELECT 1 AS x", schema="dwh")
    check = asset_check(mart, "expect_column_values_to_not_be_null", "warning", column="x")
    small = Definitions(assets=[mart], checks=[check])
    table = "dwh.quality_test_mart"
    assert table in checked_tables(small)
    kinds = [e.expectation_type for e in expectations_for(table, small)]
    assert kinds == [
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
    ]
    result = run_checkpoint(table, small)
    assert result.success is False and result.blocking_failures[0].startswith("cannot validate")


def test_checkpoints_write_only_results_and_docs(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project = get_settings().gx_dir
    before = {p: p.read_bytes() for p in project.rglob("*.*") if "uncommitted" not in p.parts}
    assert defs.materialize("group:dwh").ok  # the marts' tables exist, empty like their inputs
    results = run_checks(checked_tables(defs), defs)  # every suite, on empty tables
    assert [r.table for r in results] == checked_tables(defs)
    errors = [f for r in results for f in r.blocking_failures + r.warnings if "[error" in f]
    assert errors == []  # every rule evaluates (no bad SQL, no unknown column)
    assert all(r.success and r.warnings for r in results)  # empty tables: row count warnings
    after = {p: p.read_bytes() for p in project.rglob("*.*") if "uncommitted" not in p.parts}
    assert after == before

    run_checkpoint("shop.products", defs, run_name="manual__2026-11-22")  # a second products run
    monkeypatch.setenv("ETL_GX_KEEP_RESULTS", "1")  # docs keep the newest result per table
    get_settings.cache_clear()
    try:
        index = build_docs(defs)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert index == project.resolve() / "uncommitted/data_docs/local_site/index.html"
    html = index.read_text()
    pages = sorted((index.parent / "validations").rglob("*.html"))
    assert len(pages) == len(checked_tables(defs))  # one validation per suite
    assert all(f"'asset_name': '{table}'" in html for table in checked_tables(defs))
    assert next(p for p in pages if "products" in p.parts).parts[-3] == "manual__2026-11-22"
    assert get_settings().local_dir.name not in html  # no socket path / URL in the report
    # offline: the pages load local copies of their scripts and styles (fetched with npm once)
    assert "code.jquery.com" not in html and "cdnjs.cloudflare.com" not in html
    assert (index.parent / "static/vendor/jquery/dist/jquery.min.js").stat().st_size > 50_000
