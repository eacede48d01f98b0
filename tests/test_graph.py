"""The asset graph: validation at build time, dbt-style selection, failure isolation."""

from __future__ import annotations

from typing import Any

import pytest

from etl.definitions import defs
from etl.engine import (
    AssetDeclarationError,
    AssetGraph,
    AssetResult,
    IngestAsset,
    RunContext,
    SelectionError,
    SqlAsset,
    materialize,
)


def ingest(name: str, writes: tuple[str, ...] = (), deps: tuple[str, ...] = (), fail: bool = False):
    def run(ctx: RunContext) -> AssetResult:
        if fail:
            raise RuntimeError(f"{name} broke")
        return AssetResult(note=name)

    return IngestAsset(name=name, group="test", deps=deps, writes=writes, run=run)


def mart(name: str, deps: tuple[str, ...], group: str = "marts") -> SqlAsset:
    return SqlAsset(name=name, group=group, deps=deps, sql="SELECT 1 AS one", schema="test_dwh")


@pytest.fixture
def toy() -> AssetGraph:
    r"""collect -> (raw) -> a -> c ; b -> c ; c -> d ; e (alone)."""
    return AssetGraph.build(
        [
            ingest("collect", writes=("raw",)),
            IngestAsset(name="a", group="test", sources=("raw",), run=lambda ctx: AssetResult()),
            ingest("b"),
            mart("c", deps=("a", "b")),
            mart("d", deps=("c",)),
            ingest("e"),
        ]
    )


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("c", {"c"}),
        ("c+", {"c", "d"}),
        ("+c", {"collect", "a", "b", "c"}),
        ("+c+", {"collect", "a", "b", "c", "d"}),
        ("group:marts", {"c", "d"}),
        ("e, d", {"d", "e"}),
        ("a+ e", {"a", "c", "d", "e"}),
        ("*", {"collect", "a", "b", "c", "d", "e"}),
    ],
)
def test_selection_syntax(toy: AssetGraph, selection: str, expected: set[str]) -> None:
    chosen = toy.select(selection)
    assert set(chosen) == expected
    assert chosen == [n for n in toy.order if n in expected]  # always in run order


def test_edges_come_from_declared_deps_and_from_collections(toy: AssetGraph) -> None:
    assert toy.upstream["a"] == {"collect"}  # a reads `raw`, which collect writes
    assert toy.upstream["c"] == {"a", "b"}
    assert toy.order.index("collect") < toy.order.index("a") < toy.order.index("c")


def test_unknown_selection_suggests_close_names(toy: AssetGraph) -> None:
    with pytest.raises(SelectionError, match=r"unknown asset 'colect' \(did you mean 'collect'"):
        toy.select("colect+")
    with pytest.raises(SelectionError, match=r"unknown group 'mart' \(did you mean 'marts'"):
        toy.select("group:mart")


def test_cycles_are_named() -> None:
    with pytest.raises(AssetDeclarationError, match=r"cycle: (x -> y -> x|y -> x -> y)"):
        AssetGraph.build([mart("x", deps=("y",)), mart("y", deps=("x",))])


def test_unknown_upstream_is_named() -> None:
    with pytest.raises(
        AssetDeclarationError, match=r"'z' depends on unknown asset 'ussr_sessions'"
    ):
        AssetGraph.build([mart("user_sessions", deps=()), mart("z", deps=("ussr_sessions",))])


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(AssetDeclarationError, match="declared twice"):
        AssetGraph.build([ingest("x"), ingest("x")])


def test_the_project_graph_has_every_shop_asset() -> None:
    graph = defs.graph
    assert set(graph.groups["shop"]) == {
        "user_sessions",
        "products",
        "event_logs",
        "support_tickets",
        "user_recommendations",
        "moderation_queue",
        "search_queries",
    }
    mermaid = graph.to_mermaid()
    assert mermaid.startswith("flowchart LR")
    assert "src_user_sessions --> user_sessions" in mermaid


def test_a_failing_asset_skips_its_downstream_only(db: Any) -> None:
    db.execute("CREATE SCHEMA IF NOT EXISTS test_dwh AUTHORIZATION etl_loader")  # the marts'
    graph = AssetGraph.build(
        [
            ingest("ok"),
            ingest("broken", fail=True),
            mart("after_broken", deps=("broken",)),
            mart("after_ok", deps=("ok",)),
            mart("later", deps=("after_broken",)),
        ]
    )
    summary = materialize("*", graph=graph)
    status = {o.name: o.status for o in summary.outcomes}
    assert status == {
        "ok": "success",
        "broken": "failed",
        "after_broken": "skipped",
        "after_ok": "success",
        "later": "skipped",
    }
    assert summary["broken"].error == "RuntimeError: broken broke"
    assert summary["later"].error == "upstream after_broken, broken did not succeed"
    recorded = dict(
        db.execute(
            "SELECT asset, status FROM etl.asset_runs WHERE run_id = %s", [summary.run_id]
        ).fetchall()
    )
    assert recorded == status
    db.execute("DROP SCHEMA test_dwh CASCADE")
