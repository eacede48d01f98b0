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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset, Param, TaskGroup, TriggerRule
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from dags.task_logs import with_task_log
from etl.engine import Asset as EngineAsset
from etl.engine import AssetGraph, Definitions, TableAsset

log = logging.getLogger(__name__)

DAG_ID = "mongo_assets"
DEFAULT_SCHEDULE = "@hourly"


def collection_uri(collection: str) -> str:
    """The Airflow Asset URI of a MongoDB collection (the RAW layer, lineage's first column)."""
    return f"mongodb://raw/{collection}"


def quality_uri(table: str) -> str:
    """The Airflow Asset a check task reports on: one event per check, passed or warnings."""
    return f"quality://warehouse/{table.replace('.', '/')}"


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


def table_uri(table: str) -> str:
    """The Airflow Asset URI of a warehouse table (lineage in Airflow's asset view)."""
    return f"postgres://warehouse/{table.replace('.', '/')}"


class AssetTasks:
    """The task callables for one `Definitions`: bound methods, so each task's code runs against
    the definitions the DAG was built from (no module-level state)."""

    def __init__(self, defs: Definitions) -> None:
        self.defs = defs

    def _selected(self, name: str, context: dict[str, Any]) -> tuple[bool, str | None]:
        """(full refresh?, the Airflow run id) for an asset in the run's selection; an asset
        outside it skips its task, visibly."""
        params = context["params"]
        if name not in self.defs.graph.select(params.get("selection") or "*"):
            raise AirflowSkipException(f"{name} is not in selection {params.get('selection')!r}")
        run_id = context["dag_run"].run_id if context.get("dag_run") else None
        return bool(params.get("full_refresh")), run_id

    @with_task_log
    def run_asset(self, name: str, **context: Any) -> dict[str, Any]:
        """Materialise one asset, unless the run's selection leaves it out."""
        full_refresh, run_id = self._selected(name, context)
        summary = self.defs.materialize(name, full_refresh=full_refresh, run_id=run_id)
        outcome = summary[name]
        if outcome.status != "success":
            raise RuntimeError(f"{name} {outcome.status}: {outcome.error}")
        r = outcome.result
        log.info(
            "%s: %d documents read (%d unchanged), rows %s, %d deleted, %d rejects%s",
            name, r.documents_read, r.documents_unchanged, r.rows_written or "{}",
            r.rows_deleted, r.rejects, f"; {r.note}" if r.note else "",
        )  # fmt: skip
        figures = {
            "run_id": summary.run_id,
            "documents_read": r.documents_read,
            "documents_unchanged": r.documents_unchanged,
            "rows_deleted": r.rows_deleted,
            "rejects": r.rejects,
            "cursor_anomalies": r.cursor_anomalies,
            "watermark": (r.watermark_after or {}).get("cursor_value"),
            "note": r.note or None,
        }
        events = context.get("outlet_events")
        if events is not None:  # each asset event carries the run's figures (Assets view)
            for table in self.defs.graph.assets[name].tables:
                events[Asset(table_uri(table))].extra = {
                    **figures,
                    "rows_written": r.rows_written.get(table, 0),
                }
        return figures | {"rows": r.rows_written}

    @with_task_log
    def plan_ranges(self, name: str, **context: Any) -> list[dict[str, Any]]:
        """Plan (or resume) a partitioned snapshot of the asset: one entry per range still to
        load, each becoming a mapped `load_<asset>` task; none for an incremental run."""
        full_refresh, run_id = self._selected(name, context)
        snapshot = self.defs.plan_snapshot(name, full_refresh=full_refresh, run_id=run_id)
        if snapshot is None:
            log.info("%s: incremental run, no snapshot to split", name)
            return []
        log.info("%s: %s, loading %d range(s)", name, snapshot.describe(), len(snapshot.remaining))
        count = len(snapshot.ranges)
        return [
            {
                "name": name,
                "snapshot_id": snapshot.snapshot_id,
                "index": r.index,
                "label": f"range {r.index + 1}/{count}, ~{r.id_range.expected or 0:,} documents",
            }
            for r in snapshot.remaining
        ]

    @with_task_log
    def load_range(
        self, name: str, snapshot_id: str, index: int, label: str = "", **context: Any
    ) -> dict[str, Any]:
        """Load one `_id` range of the asset's snapshot (resumes at its checkpoint on retry)."""
        r = self.defs.load_range(name, snapshot_id, index)
        log.info(
            "%s range %d: %d documents read (%d unchanged), rows %s, %d rejects",
            name, index, r.documents_read, r.documents_unchanged, r.rows_written or "{}",
            r.rejects,
        )  # fmt: skip
        return {"documents_read": r.documents_read, "rejects": r.rejects, "rows": r.rows_written}

    @with_task_log
    def run_checkpoint(self, name: str, **context: Any) -> dict[str, Any]:
        """Validate the asset's tables. The log starts with the verdict; blocking failures fail
        the task; warnings leave it green with a note (set by dags/plugins/check_notes.py from
        the returned `note`), so the grid tells a warning check from a clean one."""
        from etl.quality import run_checks, suites_for_asset

        asset = self.defs.graph.assets[name]
        run_id = context["dag_run"].run_id if context.get("dag_run") else None
        results = run_checks(suites_for_asset(asset, self.defs), self.defs, run_name=run_id)
        unequal, differs, equal = reconcile_check(asset)
        verdict = CheckVerdict(
            blocking=[f"{r.table}: {f}" for r in results for f in r.blocking_failures] + unequal,
            warnings=[f"{r.table}: {w}" for r in results for w in r.warnings]
            + drift_warning(asset, run_id)
            + differs,
            expectations=sum(r.evaluated for r in results),
        )
        log.info("verdict: %s", verdict.headline())
        for r in results:
            log.info("%s: %d expectations, %s (%.2f s)", r.table, r.evaluated, r.verdict, r.seconds)
        for line in equal:
            log.info("%s", line)
        for warning in verdict.warnings:
            log.warning("warning: %s", warning)
        if verdict.blocking:
            failed = "; ".join(verdict.blocking)
            raise AirflowFailException(f"blocking expectations failed: {failed}")
        events = context.get("outlet_events")
        if events is not None:  # a check with warnings reads differently from a clean one
            for r in results:
                events[Asset(quality_uri(r.table))].extra = {
                    "result": r.verdict,
                    "evaluated": r.evaluated,
                    "warnings": r.warnings[:10],
                }
        return {"suites": len(results), "warnings": len(verdict.warnings), "note": verdict.note()}

    @with_task_log
    def build_docs(self, **context: Any) -> str:
        from etl.quality import build_docs

        return str(build_docs(self.defs))

    @with_task_log
    def build_report(self, **context: Any) -> str:
        from etl.report import build_report

        return str(build_report())


@dataclass
class CheckVerdict:
    """What a check task found, headline first: the log's first line and the grid's note."""

    blocking: list[str]
    warnings: list[str]
    expectations: int

    def headline(self) -> str:
        if self.blocking:
            return (
                f"FAILED: {len(self.blocking)} blocking failure(s), "
                f"{len(self.warnings)} warning(s) ({self.expectations} expectations)"
            )
        if self.warnings:
            return (
                f"WARNINGS: {len(self.warnings)} warning(s), nothing blocking "
                f"({self.expectations} expectations)"
            )
        return f"PASSED: {self.expectations} expectations, no warning"

    def note(self) -> str | None:
        """The task instance's note when warnings were found (Markdown, as the UI renders it)."""
        if self.blocking or not self.warnings:
            return None
        listed = "\n".join(f"- {w}" for w in self.warnings[:NOTE_WARNINGS])
        more = len(self.warnings) - NOTE_WARNINGS
        tail = f"\n- … and {more} more (see the task log)" if more > 0 else ""
        return f"⚠ {self.headline()}\n\n{listed}{tail}"


NOTE_WARNINGS = 8
"""Warnings listed in a note; the log has them all."""


def drift_warning(asset: EngineAsset, run_id: str | None) -> list[str]:
    """Fields or types an asset's documents started to hold in this run: one warning, never a
    blocking failure (the rows loaded; the source changed shape)."""
    from etl.engine.observe.drift import drift
    from etl.services.postgres import pg_connect

    if not isinstance(asset, TableAsset) or run_id is None:
        return []
    with pg_connect() as conn:
        found = drift(conn, asset.name, run_id)
    if not found:
        return []
    listed = ", ".join(d.describe() for d in found[:10])
    return [
        f"drift: {len(found)} new field(s) or type(s) in {asset.name} in run {run_id}: {listed};"
        f" see `python -m etl drift {asset.name}`"
    ]


def reconcile_check(asset: EngineAsset) -> tuple[list[str], list[str], list[str]]:
    """MongoDB = PostgreSQL for a table asset (ETL_RECONCILE_CHECK): differences are warnings,
    or blocking failures when the severity is 'error'. Returns (blocking, warnings, equal)."""
    from etl.engine.observe.reconcile import reconcile_assets
    from etl.settings import get_settings

    severity = get_settings().reconcile_check
    if severity == "off" or not isinstance(asset, TableAsset):
        return [], [], []
    (result,) = reconcile_assets([asset])
    finding = [f"reconcile: {result.summary()}"]
    if result.ok:
        return [], [], finding
    return (finding, [], []) if severity == "error" else ([], finding, [])


def build_dag(
    defs: Definitions,
    *,
    dag_id: str = DAG_ID,
    schedule: str | None = DEFAULT_SCHEDULE,
    checked: set[str] | None = None,
    max_active_tasks: int = 8,
    range_workers: int = 2,
) -> DAG:
    """The DAG for `defs`. `checked`: assets that get a checkpoint (default: those with Great
    Expectations suites). A table asset declared `partitioned` gets three tasks: `plan_<asset>`
    plans (or resumes) a snapshot's ranges, `load_<asset>` is mapped over them (at most
    `range_workers` at once in a DAG run; the executor spreads them over its workers), and the
    asset's own task finishes the snapshot (deletes, watermark) or, when no snapshot was
    needed, runs the ordinary incremental load."""
    from etl.quality import suites_for_asset

    graph = defs.graph
    tasks = AssetTasks(defs)
    if checked is None:
        checked = {n for n, a in graph.assets.items() if suites_for_asset(a, defs)}
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
    gate: dict[str, Any] = {}  # what downstream assets wait on: the checkpoint, or the asset
    entry: dict[str, Any] = {}  # what waits on upstream assets: the plan task, or the asset
    with dag:
        finals = [
            PythonOperator(
                task_id=task_id,
                python_callable=build,
                trigger_rule=TriggerRule.ALL_DONE,
                retries=0,
            )
            for task_id, build in (
                ("data_docs", tasks.build_docs),
                ("analytics_report", tasks.build_report),
            )
        ]
        for group, names in graph.groups.items():
            with TaskGroup(group_id=group, prefix_group_id=False):
                for name in names:
                    asset = graph.assets[name]
                    task = PythonOperator(
                        task_id=name,
                        python_callable=tasks.run_asset,
                        op_kwargs={"name": name},
                        outlets=outlets_of(asset),
                        inlets=inlets_of(asset, graph),
                        trigger_rule=TriggerRule.NONE_FAILED,
                        doc_md=asset.description or None,
                    )
                    gate[name] = entry[name] = task
                    if isinstance(asset, TableAsset) and asset.partitioned:
                        plan, load = _range_tasks(tasks, name, range_workers)
                        load >> task
                        entry[name] = plan
                    if name in checked:
                        check = PythonOperator(
                            task_id=f"check_{name}",
                            python_callable=tasks.run_checkpoint,
                            op_kwargs={"name": name},
                            outlets=[Asset(quality_uri(t)) for t in suites_for_asset(asset, defs)],
                            retries=0,
                        )
                        task >> check >> finals
                        gate[name] = check
                    else:
                        task >> finals
        for name in graph.order:
            for upstream in sorted(graph.upstream[name]):
                gate[upstream] >> entry[name]
        for declared in defs.checks:  # a check that reads another asset's table runs after it
            for read in declared.reads:
                if declared.asset.name in checked and read.name != declared.asset.name:
                    dag.get_task(read.name) >> dag.get_task(f"check_{declared.asset.name}")
    return dag


def _range_tasks(tasks: AssetTasks, name: str, range_workers: int) -> tuple[Any, Any]:
    """`plan_<name>` >> `load_<name>`, mapped over the planned ranges.

    No range (an incremental run) leaves the mapped task skipped, and the asset's task (trigger
    rule none_failed) runs the incremental load; a failed range stops the asset's task, and the
    next DAG run's plan resumes the snapshot (finished ranges are not loaded again).
    """
    plan = PythonOperator(
        task_id=f"plan_{name}",
        python_callable=tasks.plan_ranges,
        op_kwargs={"name": name},
        doc_md="Plans (or resumes) a partitioned snapshot: the `_id` ranges still to load.",
    )
    load = PythonOperator.partial(
        task_id=f"load_{name}",
        python_callable=tasks.load_range,
        max_active_tis_per_dagrun=range_workers,
        map_index_template="{{ task.op_kwargs['label'] }}",  # the UI lists "range 2/4, ..."
        doc_md="Loads one `_id` range of the snapshot, from its checkpoint.",
    ).expand(op_kwargs=plan.output)
    plan >> load
    return plan, load
