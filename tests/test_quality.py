"""Great Expectations suites from the models, checkpoints with severities, data docs."""

from __future__ import annotations

from typing import Any

import pytest

import models
from etl.quality import build_docs, checked_tables, expectations_for, run_checkpoint

SESSION = (
    "INSERT INTO shop.user_sessions (source_id, source_updated_at, source_hash, session_id,"
    " user_id, start_time, end_time) VALUES (%s, now(), '\\x00', %s, 'U1', %s, %s)"
)


def kinds(table: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in expectations_for(table):
        out.setdefault(e.expectation_type, []).append(e.configuration.kwargs)
    return out


def test_every_shop_and_aviasales_table_has_a_suite() -> None:
    tables = {t.fullname for t in models.metadata.sorted_tables if t.schema != "etl"}
    assert tables <= set(checked_tables())


def test_model_rules_become_expectations() -> None:
    review = kinds("shop.moderation_queue")
    between = {
        k["column"]: (k["min_value"], k["max_value"])
        for k in review["expect_column_values_to_be_between"]
    }
    assert between["rating"] == (1, 5)
    value_sets = {
        k["column"]: set(k["value_set"]) for k in review["expect_column_values_to_be_in_set"]
    }
    assert value_sets["moderation_status"] == {"pending", "approved", "rejected"}
    not_null = {k["column"] for k in review["expect_column_values_to_not_be_null"]}
    assert {"review_id", "user_id", "product_id", "rating"} <= not_null
    assert {"column": "review_id"} in [
        {"column": k["column"]} for k in review["expect_column_values_to_be_unique"]
    ]
    pages = kinds("shop.session_pages")
    assert pages["expect_compound_columns_to_be_unique"][0]["column_list"] == [
        "session_id",
        "position",
    ]
    patterns = kinds("shop.products")["expect_column_values_to_match_regex"]
    assert {"column": "currency", "regex": "^[A-Z]{3}$"} in [
        {"column": k["column"], "regex": k["regex"]} for k in patterns
    ]


def test_severities_are_recorded_on_each_expectation() -> None:
    severities = {e.meta["severity"] for e in expectations_for("shop.moderation_queue")}
    assert severities == {"blocking", "warning"}


def test_good_rows_pass_and_a_broken_rule_blocks(db: Any) -> None:
    db.execute(SESSION, ["a", "s1", "2026-11-20 10:00Z", "2026-11-20 10:30Z"])
    good = run_checkpoint("shop.user_sessions")
    assert good.blocking_failures == [] and good.warnings == []
    assert good.evaluated >= 8

    db.execute(SESSION, ["b", "s2", "2026-11-20 10:00Z", "2026-11-20 09:00Z"])  # ends before start
    bad = run_checkpoint("shop.user_sessions")
    assert len(bad.blocking_failures) == 1
    assert "expect_column_pair_values_a_to_be_greater_than_b" in bad.blocking_failures[0]
    assert bad.success is False


def test_a_warning_does_not_block(db: Any) -> None:
    db.execute(
        "INSERT INTO shop.user_sessions (source_id, source_updated_at, source_hash, session_id,"
        " user_id, start_time) VALUES ('old', now() - interval '30 days', '\\x00', 's', 'U', now())"
    )
    result = run_checkpoint("shop.user_sessions")
    assert result.blocking_failures == []
    assert result.warnings == ["the newest source_updated_at is at most 7 days old"]


def test_data_docs_list_the_validations(db: Any) -> None:
    run_checkpoint("shop.products")
    index = build_docs()
    assert index.exists()
    assert "shop.products" in index.read_text()


@pytest.mark.parametrize("table", ["shop.recommended_products", "shop.moderation_queue"])
def test_cross_collection_references_are_warnings(table: str) -> None:
    refs = [
        e for e in expectations_for(table) if "exists in shop.products" in (e.description or "")
    ]
    assert len(refs) == 1 and refs[0].meta["severity"] == "warning"
