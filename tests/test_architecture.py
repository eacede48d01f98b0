"""The rules of dependency between packages (docs/architecture.md), read from the source.

Every import counts, also those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "etl", "ingest", "generator", "dags")
SUBPACKAGES = ("etl.engine", "etl.assets", "etl.quality", "etl.report", "etl.cli", "etl.services")

FORBIDDEN = {
    # (importer unit prefix, imported unit prefix): why
    ("etl.engine", "etl.assets"): "the engine receives definitions; it never imports the assets",
    ("etl.engine", "etl.definitions"): "the engine receives definitions",
    ("etl.engine", "etl.quality"): "quality is built on the engine",
    ("etl.engine", "etl.cli"): "the CLI is built on the engine",
    ("etl.assets", "etl.quality"): "checks are engine data; GX lives above the assets",
    ("etl.quality", "etl.definitions"): "quality code receives definitions",
    ("etl.report", "etl.definitions"): "report code receives what it needs",
    ("etl", "generator"): "the product never imports the imitated outside world",
    ("ingest", "generator"): "ingestion finds the simulator through an entry point",
    ("models", "etl"): "the schema knows nothing of the engine",
    ("models", "ingest"): "the schema knows nothing of ingestion",
}
"""Edges that would point the wrong way (etl.cli, the top, may import dags)."""


def unit(module: str) -> str:
    """The node a module belongs to: a sub-package of etl, a top-level module of etl, or a
    top-level package."""
    for sub in SUBPACKAGES:
        if module == sub or module.startswith(sub + "."):
            return sub
    parts = module.split(".")
    if parts[0] == "etl" and len(parts) > 1:
        return "etl." + parts[1]
    return parts[0]


def imports() -> dict[str, set[str]]:
    """Unit → the units its modules import (project packages only)."""
    edges: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
                ".__init__"
            )
            tree = ast.parse(path.read_text(), str(path))
            targets: set[str] = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets.add(node.module)
                    targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            here = unit(module)
            for target in targets:
                if target.split(".")[0] in PACKAGES and unit(target) != here:
                    edges.setdefault(here, set()).add(unit(target))
    return edges


GRAPH = imports()


def test_the_package_graph_has_no_cycle() -> None:
    try:
        order = list(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as exc:
        pytest.fail("import cycle between packages: " + " -> ".join(exc.args[1]))
    assert "etl.engine" in order and "etl.assets" in order


@pytest.mark.parametrize(("importer", "imported"), sorted(FORBIDDEN))
def test_no_import_points_the_wrong_way(importer: str, imported: str) -> None:
    wrong = sorted(
        f"{here} imports {there}"
        for here, theres in GRAPH.items()
        for there in theres
        if (here == importer or here.startswith(importer + "."))
        and (there == imported or there.startswith(imported + "."))
    )
    assert wrong == [], f"{FORBIDDEN[(importer, imported)]}: {wrong}"


def test_the_checker_sees_imports_inside_functions() -> None:
    """The collector reads the lazy `from ingest.aviasales.collector import collect` too."""
    assert "ingest" in GRAPH["etl.assets"]
    assert "dags" in GRAPH["etl.cli"]  # the demo runs the DAG in-process, imported lazily
