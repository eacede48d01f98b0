"""Render the asset graph as ONE Airflow DAG: a task per asset, a checkpoint after each.

Nothing here knows the assets by name: `build_dag(defs)` renders whatever `Definitions` it is
given, so listing an asset there adds its task, its checkpoint and its edges. Tasks call the
very `Definitions.materialize()` the CLI calls.

- task id = asset name, inside a TaskGroup per asset group (ids are not prefixed);
- `check_<asset>` runs the asset's Great Expectations suites right after it; a blocking failure
  fails the task (no retries) and, because downstream assets wait on the checkpoint, stops them;
  a warning-level failure is logged and does not; a check that reads another asset's table
  (declared `reads=`) also waits for that asset;
- assets outside the `selection` param skip themselves, visibly; an asset runs when no upstream
  failed (`none_failed`), so a selection of downstream assets still runs after skipped ones;
- `data_docs` rebuilds the quality report and `analytics_report` the analytics report (charts
  of the marts) at the end, whatever happened: a section whose mart failed says so.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset, Param, TaskGroup, TriggerRule

from dags.lineage import collection_uri, quality_uri, table_uri
from dags.plan import TaskSpec, plan_tasks
from dags.tasks import AssetTasks
from etl.engine import Asset as EngineAsset
from etl.engine import AssetGraph, Definitions

log = logging.getLogger(__name__)

DAG_ID = "mongo_assets"
DEFAULT_SCHEDULE = "@hourly"


def outlets_of(asset: EngineAsset) -> list[Asset]:
    """What an asset writes, as Airflow Assets: its tables, or the collections it fills."""
    return [Asset(table_uri(t)) for t in asset.tables] + [
        Asset(collection_uri(c)) for c in asset.produces
    ]


def inlets_of(asset: EngineAsset, graph: AssetGraph) -> list[Asset]:
    """What an asset reads, as Airflow Assets: the tables of its upstream assets and the
    collections it reads, so the Assets view draws collection -> table -> mart."""
    tables = {t for up in graph.upstream[asset.name] for t in graph.assets[up].tables}
    return [Asset(collection_uri(c)) for c in asset.sources] + [
        Asset(table_uri(t)) for t in sorted(tables)
    ]


def build_dag(
    defs: Definitions,
    *,
    dag_id: str = DAG_ID,
    schedule: str | None = DEFAULT_SCHEDULE,
    checked: set[str] | None = None,
    max_active_tasks: int = 8,
    range_workers: int = 2,
) -> DAG:
    """The DAG for `defs`: the task plan (dags/plan.py) rendered as operators. `checked`:
    assets that get a checkpoint (default: those with Great Expectations suites);
    `range_workers`: mapped range loads of one asset at once in a DAG run."""
    from etl.quality import suites_for_asset

    if checked is None:
        checked = {n for n, a in defs.graph.assets.items() if suites_for_asset(a, defs)}
    plan = plan_tasks(defs, checked)
    dag = DAG(
        dag_id=dag_id,
        description="MongoDB → PostgreSQL asset graph with Great Expectations checkpoints",
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        max_active_tasks=max_active_tasks,
        params={
            "selection": Param("*", type="string", description="Assets to run (etl syntax)."),
            "full_refresh": Param(False, type="boolean", description="Re-read everything."),
        },
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=10),
        },
        tags=["mongo-assets"],
        doc_md=__doc__,
    )
    render = Renderer(defs, AssetTasks(defs), range_workers)
    with dag:
        groups = {g: TaskGroup(group_id=g, prefix_group_id=False) for g in defs.graph.groups}
        for spec in plan.tasks:
            with groups[spec.group] if spec.group else nullcontext():
                render.task(spec)
        for spec in plan.tasks:
            for upstream in spec.upstream:
                render.made[upstream] >> render.made[spec.task_id]
    return dag


class Renderer:
    """Each `TaskSpec` as the operator that runs it (the only Airflow-specific step)."""

    def __init__(self, defs: Definitions, tasks: AssetTasks, range_workers: int) -> None:
        self.defs, self.tasks, self.range_workers = defs, tasks, range_workers
        self.made: dict[str, Any] = {}

    def task(self, spec: TaskSpec) -> None:
        self.made[spec.task_id] = getattr(self, spec.kind)(spec)

    def asset(self, spec: TaskSpec) -> Any:
        asset = self.defs.graph.assets[spec.asset or ""]
        return PythonOperator(
            task_id=spec.task_id,
            python_callable=self.tasks.run_asset,
            op_kwargs={"name": asset.name},
            outlets=outlets_of(asset),
            inlets=inlets_of(asset, self.defs.graph),
            trigger_rule=TriggerRule.NONE_FAILED,
            doc_md=asset.description or None,
        )

    def check(self, spec: TaskSpec) -> Any:
        from etl.quality import suites_for_asset

        asset = self.defs.graph.assets[spec.asset or ""]
        return PythonOperator(
            task_id=spec.task_id,
            python_callable=self.tasks.run_checkpoint,
            op_kwargs={"name": asset.name},
            outlets=[Asset(quality_uri(t)) for t in suites_for_asset(asset, self.defs)],
            retries=0,
        )

    def plan_ranges(self, spec: TaskSpec) -> Any:
        return PythonOperator(
            task_id=spec.task_id,
            python_callable=self.tasks.plan_snapshot,
            op_kwargs={"name": spec.asset},
            doc_md="Plans (or resumes) a partitioned snapshot: the `_id` ranges still to load.",
        )

    def load_ranges(self, spec: TaskSpec) -> Any:
        """Mapped over the planned ranges. No range (an incremental run) leaves it skipped and
        the asset's task (trigger rule none_failed) runs the incremental load; a failed range
        stops the asset's task, and the next DAG run's plan resumes the snapshot."""
        (plan,) = spec.upstream
        return PythonOperator.partial(
            task_id=spec.task_id,
            python_callable=self.tasks.load_snapshot_range,
            max_active_tis_per_dagrun=self.range_workers,
            map_index_template="{{ task.op_kwargs['label'] }}",  # the UI lists "range 2/4, ..."
            doc_md="Loads one `_id` range of the snapshot, from its checkpoint.",
        ).expand(op_kwargs=self.made[plan].output)

    def final(self, spec: TaskSpec) -> Any:
        build = {"data_docs": self.tasks.build_docs, "analytics_report": self.tasks.build_report}
        return PythonOperator(
            task_id=spec.task_id,
            python_callable=build[spec.task_id],
            trigger_rule=TriggerRule.ALL_DONE,
            retries=0,
        )
