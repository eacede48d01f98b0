"""The callables of the DAG's tasks, bound to one `Definitions`: materialise an asset, plan and
load a snapshot's ranges, run a checkpoint (verdict first), rebuild the reports."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from dags.lineage import quality_uri, table_uri
from dags.task_logs import with_task_log
from etl.engine import Asset as EngineAsset
from etl.engine import Definitions, TableAsset

log = logging.getLogger(__name__)


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
        if name in streamed_now():
            log.info(
                "%s: held by a running change stream (`python -m etl stream`), which keeps it"
                " current; not reloaded by this DAG run", name,
            )  # fmt: skip
            return {"held_by_stream": True}
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
    def plan_snapshot(self, name: str, **context: Any) -> list[dict[str, Any]]:
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
    def load_snapshot_range(
        self, name: str, snapshot_id: str, index: int, label: str = "", **context: Any
    ) -> dict[str, Any]:
        """Load one `_id` range of the asset's snapshot (resumes at its checkpoint on retry)."""
        r = self.defs.load_snapshot_range(name, snapshot_id, index)
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


def streamed_now() -> set[str]:
    """The assets a live `etl stream` holds: the DAG leaves them to it (marts and checks run)."""
    from etl.engine.bookkeeping.positions import live_streams
    from etl.services.postgres import pg_connect

    with pg_connect(autocommit=True) as conn:
        return live_streams(conn)
