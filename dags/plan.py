"""The DAG as data: which tasks the asset graph becomes and how they depend on each other.

`plan_tasks(defs, checked)` is plain Python (no Airflow import), so the shape of the DAG — a
task per asset, `check_<asset>` after it, `plan_<asset>` → mapped `load_<asset>` → `<asset>` for
a partitioned asset, the final report tasks — is tested without Airflow; dags/builder.py only
renders each `TaskSpec` as an operator (the split cosmos makes between its task metadata and
the Airflow task it becomes).

Edges: an asset waits for its upstream assets' *gates* (the checkpoint when the upstream asset
has one, else its task) at its *entry* (its plan task when partitioned, else its task); a check
that reads another asset's table (declared `reads=`) also waits for that asset; the final tasks
wait for every gate.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from typing import Literal

from etl.engine import Definitions, TableAsset

TaskKind = Literal["asset", "check", "plan_ranges", "load_ranges", "final"]
FINALS = ("data_docs", "analytics_report")


def check_id(asset: str) -> str:
    return f"check_{asset}"


@dataclass(frozen=True)
class TaskSpec:
    """One task of the DAG: what it runs (`kind` on `asset`), its group and the task ids it
    waits for."""

    task_id: str
    kind: TaskKind
    asset: str | None = None
    group: str | None = None
    upstream: tuple[str, ...] = ()


@dataclass
class TaskPlan:
    """The DAG's tasks in a renderable order (every task after those it waits for)."""

    tasks: list[TaskSpec] = field(default_factory=list)

    def __getitem__(self, task_id: str) -> TaskSpec:
        return next(t for t in self.tasks if t.task_id == task_id)

    @property
    def ids(self) -> list[str]:
        return [t.task_id for t in self.tasks]


def plan_tasks(defs: Definitions, checked: set[str]) -> TaskPlan:
    """The tasks of `defs`' graph; `checked`: the assets that get a checkpoint."""
    graph = defs.graph
    reads = {
        name: sorted(
            {r.name for c in defs.checks if c.asset.name == name for r in c.reads} - {name}
        )
        for name in checked
    }

    def gate(name: str) -> str:
        return check_id(name) if name in checked else name

    plan = TaskPlan()
    for name in graph.order:
        asset = graph.assets[name]
        after = tuple(gate(up) for up in sorted(graph.upstream[name]))
        if isinstance(asset, TableAsset) and asset.partitioned:
            plan.tasks += [
                TaskSpec(f"plan_{name}", "plan_ranges", name, asset.group, after),
                TaskSpec(f"load_{name}", "load_ranges", name, asset.group, (f"plan_{name}",)),
                TaskSpec(name, "asset", name, asset.group, (f"load_{name}",)),
            ]
        else:
            plan.tasks.append(TaskSpec(name, "asset", name, asset.group, after))
    for name in graph.order:  # after every asset: a check may wait for a later one's task
        if name in checked:
            group = graph.assets[name].group
            plan.tasks.append(TaskSpec(check_id(name), "check", name, group, (name, *reads[name])))
    gates = tuple(gate(name) for name in graph.order)
    plan.tasks += [TaskSpec(final, "final", upstream=gates) for final in FINALS]
    by_id = {t.task_id: t for t in plan.tasks}
    order = graphlib.TopologicalSorter({t.task_id: t.upstream for t in plan.tasks})
    plan.tasks = [by_id[task_id] for task_id in order.static_order()]
    return plan
