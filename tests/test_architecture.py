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


# -- modules -----------------------------------------------------------------------------------


def module_imports() -> dict[str, set[str]]:
    """Module → the project modules it imports (every import, lazy and TYPE_CHECKING too); a
    name imported from a package that is a module of its own counts as that module."""
    paths = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }

    def known(target: str) -> str | None:
        while target and target not in paths:
            target = target.rpartition(".")[0]
        return target or None

    edges: dict[str, set[str]] = {}
    for module, path in paths.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(filter(None, (known(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    target = known(f"{node.module}.{alias.name}") or known(node.module)
                    if target:
                        found.add(target)
        edges[module] = found - {module}
    return edges


MODULES = module_imports()

ENGINE_LAYERS: dict[str, set[str]] = {
    "values": set(),
    "rows": {"values"},
    "declare": {"values", "rows"},
    "bookkeeping": {"values"},
    "load": {"values", "rows", "declare", "bookkeeping"},
    "snapshots": {"values", "rows", "declare", "bookkeeping", "load"},
    "marts": {"values", "declare", "bookkeeping"},
    "observe": {"values", "rows", "declare", "bookkeeping"},
    "run": {"values", "rows", "declare", "bookkeeping", "load", "snapshots", "marts"},
}
"""The engine's layers (docs/architecture.md) and the layers each may import: an allow-list.
`etl.engine` itself and `etl.engine.definitions` sit on top and may import any of them."""


def engine_layer(module: str) -> str | None:
    """The layer of an engine module; None for `etl.engine` and `etl.engine.definitions` (the
    top) and for modules outside the engine."""
    if not module.startswith("etl.engine.") or module == "etl.engine.definitions":
        return None
    return module.split(".")[2]


def test_no_module_imports_one_that_depends_on_it() -> None:
    """No import cycle between any two modules of the product, lazy imports included."""
    try:
        graphlib.TopologicalSorter(MODULES).prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import cycle between modules: " + " -> ".join(exc.args[1]))


def test_every_engine_module_lives_in_a_declared_layer() -> None:
    stray = sorted(
        m for m in MODULES if engine_layer(m) is not None and engine_layer(m) not in ENGINE_LAYERS
    )
    assert stray == [], f"engine modules outside the layers: {stray}"


def test_engine_layers_import_only_the_layers_allowed_below_them() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in MODULES.items()
        if (layer := engine_layer(module)) is not None
        for target in targets
        if target.startswith("etl.engine")
        and (other := engine_layer(target)) != layer
        and (other is None or other not in ENGINE_LAYERS[layer])
    )
    assert wrong == []


def test_the_module_checker_sees_lazy_and_type_checking_imports() -> None:
    """It would miss a cycle hidden in a function or an `if TYPE_CHECKING:` block otherwise."""
    assert "etl.quality" in MODULES["dags.builder"]  # imported inside a task callable
    # `if TYPE_CHECKING:` in the declarations (an ingest asset's function takes a RunContext)
    assert "etl.engine.declare.context" in MODULES["etl.engine.declare.assets"]
