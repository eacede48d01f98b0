"""`Definitions`: everything a project declares, in one object passed explicitly.

In the spirit of Dagster's `Definitions(assets=..., asset_checks=...)`: the project lists its
assets and checks once (etl/definitions.py); the CLI, the DAG file, the quality code and the tests
receive that object (tests build small ones of their own). Building it validates the whole set:
names are unique, upstream assets exist, the graph has no cycle (the cycle is named), marts read
only tables some asset writes, and every check names a table of its asset, existing columns and
declared inputs. Nothing is registered as a side effect of importing a module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from etl.engine.declare.assets import Asset, SqlAsset
from etl.engine.declare.checks import AssetCheck
from etl.engine.declare.graph import AssetGraph
from etl.engine.run.runner import RunSummary, load_snapshot_range, materialize, plan_snapshot
from etl.engine.run.stream import StreamFigures, stream
from etl.engine.snapshots.snapshot import Snapshot
from etl.engine.values.errors import AssetDeclarationError
from etl.engine.values.results import AssetResult


@dataclass(frozen=True, init=False)
class Definitions:
    assets: tuple[Asset, ...]
    checks: tuple[AssetCheck, ...]
    graph: AssetGraph = field(repr=False)

    def __init__(self, assets: Iterable[Asset], checks: Iterable[AssetCheck] = ()) -> None:
        assets = tuple(assets)
        checks = tuple(checks)
        graph = AssetGraph.build(assets)
        known_tables = {t for a in assets for t in a.tables}
        problems = []
        for check in checks:
            if graph.assets.get(check.asset.name) is not check.asset:
                problems.append(
                    f"check {check.description or check.expectation!r} is declared against "
                    f"asset {check.asset.name!r}, which is not in these definitions"
                )
            problems.extend(check.problems(known_tables))
            problems.extend(
                f"check of {check.asset.name!r} reads asset {r.name!r}, which is not in these "
                "definitions"
                for r in check.reads
                if graph.assets.get(r.name) is not r
            )
        if problems:
            raise AssetDeclarationError("; ".join(problems))
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "checks", checks)
        object.__setattr__(self, "graph", graph)

    def checks_for(self, table: str) -> list[AssetCheck]:
        """The hand-written checks of one table, in declaration order."""
        return [c for c in self.checks if c.target == table]

    @property
    def mart_keys(self) -> dict[str, tuple[str, ...]]:
        """Each mart's table and its declared grain."""
        return {
            table: asset.key
            for asset in self.assets
            if isinstance(asset, SqlAsset)
            for table in asset.tables
        }

    def materialize(self, selection: str | None = None, **options: Any) -> RunSummary:
        """`etl.engine.materialize` over these definitions' graph (see its options)."""
        return materialize(selection, graph=self.graph, **options)

    def plan_snapshot(self, name: str, **options: Any) -> Snapshot | None:
        """`etl.engine.run.runner.plan_snapshot` over these definitions' graph."""
        return plan_snapshot(name, graph=self.graph, **options)

    def load_snapshot_range(
        self, name: str, snapshot_id: str, index: int, **options: Any
    ) -> AssetResult:
        """`etl.engine.run.runner.load_snapshot_range` over these definitions' graph."""
        return load_snapshot_range(name, snapshot_id, index, graph=self.graph, **options)

    def stream(self, selection: str | None = None, **options: Any) -> dict[str, StreamFigures]:
        """`etl.engine.run.stream.stream` over these definitions' graph (until `stop` is set)."""
        return stream(selection, graph=self.graph, **options)
