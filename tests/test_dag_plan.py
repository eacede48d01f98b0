"""The DAG as data (dags/plan.py): its shape is tested here without Airflow."""

from __future__ import annotations

import ast
from pathlib import Path

from dags.plan import FINALS, plan_tasks
from etl.definitions import defs
from etl.engine import TableAsset

ROOT = Path(__file__).resolve().parents[1]
GRAPH = defs.graph
CHECKED = {n for n in GRAPH.assets if n != "collect_fares"}


def test_the_plan_module_needs_no_airflow() -> None:
    tree = ast.parse((ROOT / "dags" / "plan.py").read_text())
    imported = {
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert not any(str(m).startswith("airflow") for m in imported), imported


def test_every_task_comes_after_the_tasks_it_waits_for() -> None:
    plan = plan_tasks(defs, CHECKED)
    seen: set[str] = set()
    for spec in plan.tasks:
        assert set(spec.upstream) <= seen, spec
        seen.add(spec.task_id)
    assert len(plan.ids) == len(set(plan.ids))


def test_assets_wait_for_their_upstream_gates_checks_and_finals_for_all() -> None:
    plan = plan_tasks(defs, CHECKED)
    gate = {n: f"check_{n}" if n in CHECKED else n for n in GRAPH.assets}
    for name, asset in GRAPH.assets.items():
        entry = f"plan_{name}" if isinstance(asset, TableAsset) and asset.partitioned else name
        assert set(plan[entry].upstream) == {gate[up] for up in GRAPH.upstream[name]}, name
        if entry != name:  # plan -> mapped range loads -> the asset's own task
            assert plan[f"load_{name}"].upstream == (entry,)
            assert plan[name].upstream == (f"load_{name}",)
            assert plan[f"load_{name}"].kind == "load_ranges"
        reads = {r.name for c in defs.checks if c.asset.name == name for r in c.reads} - {name}
        if name in CHECKED:
            assert set(plan[f"check_{name}"].upstream) == {name} | reads
        else:
            assert f"check_{name}" not in plan.ids
    for final in FINALS:
        assert set(plan[final].upstream) == set(gate.values())
        assert plan[final].kind == "final" and plan[final].group is None


def test_unchecked_assets_gate_with_their_own_task() -> None:
    plan = plan_tasks(defs, set())
    assert not [t for t in plan.tasks if t.kind == "check"]
    marts = [n for n, a in GRAPH.assets.items() if a.group == "dwh"]
    assert marts and all(set(plan[m].upstream) == GRAPH.upstream[m] for m in marts)
