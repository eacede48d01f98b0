"""`python -m etl demo` (what `make demo` runs): the whole product on the embedded defaults."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from etl.errors import UserFacingError, mask_url
from etl.settings import get_settings

console = Console()


def step(title: str) -> None:
    console.rule(f"[bold]{title}")


def demo(
    scale: Annotated[
        int, typer.Option(min=1, help="Shop sessions to generate on first run.")
    ] = 2000,
    dirty: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fraction of generated documents with faults.")
    ] = 0.02,
    backfill_days: Annotated[
        int,
        typer.Option(
            min=0, max=365, help="Days of air-fare history to search as of, on the first run."
        ),
    ] = 14,
) -> None:
    """Start the embedded services, migrate, generate data and run the whole pipeline.

    The first run writes a shop history and backfills air-fare searches through the proxy;
    later runs let the live site make changes instead, so you see an incremental run pick up
    exactly what changed (and today's fares searched again by the DAG's first task).
    """
    from dags.local import run_dag
    from etl.cli.inspect import drift, status
    from etl.cli.services import migrate
    from etl.services.mongo import mongo_client, mongo_uri

    started = time.monotonic()
    step("1. services and schema")
    migrate()  # as the owner; the loader and the analysts get their rights
    mongo_client()  # starts the embedded server when MONGO_URI is unset, and reaches it
    console.print(f"MongoDB {mask_url(mongo_uri())} reached")

    step("2. raw documents in MongoDB (the generator, as its own program)")
    generate = [sys.executable, "-m", "generator", "demo-data", f"--scale={scale}"]
    generate += [f"--dirty={dirty}", f"--backfill-days={backfill_days}"]
    if subprocess.run(generate, check=False).returncode != 0:
        raise UserFacingError("the generator failed (its message is above)")

    step("3. the Airflow DAG, in-process (dag.test), with a checkpoint after each asset")
    console.print("starting Airflow (SQLite metadata under LOCAL_DIR/airflow)…")
    report = run_dag("*")
    table = Table(title=f"DAG run: {report.state} in {report.seconds:.0f} s", title_justify="left")
    table.add_column("task")
    table.add_column("state")
    for task, state in sorted(report.tasks.items()):
        colour = {"success": "green", "failed": "red", "upstream_failed": "red"}.get(
            state, "yellow"
        )
        if task in report.noted:  # a check that warned: green in Airflow, with a note
            state, colour = f"{state}, with warnings (see its note)", "yellow"
        table.add_row(task, f"[{colour}]{state}[/]")
    console.print(table)

    step("4. the live site changes, drifting in shape, and the next DAG run notices")
    drifting = [sys.executable, "-m", "generator", "demo-data", "--changes=60", "--drift"]
    if subprocess.run([*drifting, "--backfill-days=0"], check=False).returncode != 0:
        raise UserFacingError("the generator failed (its message is above)")
    drifted = run_dag("*")  # incremental: loads what changed; check_event_logs warns of drift
    warned = ", ".join(sorted(drifted.noted)) or "none"
    console.print(
        f"DAG run: {drifted.state} in {drifted.seconds:.0f} s, incremental; checks with "
        f"warnings (a note on the task in the Airflow grid, the verdict atop its log): {warned}"
    )
    drift(asset=None, as_json=False)  # every asset: what status counts

    step("5. status, quality report and analytics report")
    status()
    settings = get_settings()
    docs = settings.gx_dir.resolve() / "uncommitted/data_docs/local_site/index.html"
    console.print(f"quality report (GX data docs): {docs}")
    console.print(f"analytics report: {(settings.report_path / 'index.html').resolve()}")

    step("6. MongoDB = PostgreSQL? (reconcile)")
    consistent = _reconciled()
    python = _python_hint()
    console.print(
        f"demo finished in {time.monotonic() - started:.0f} s; try `{python} -m etl ui` (the "
        f"Airflow UI), `{python} -m etl rejects`, `{python} -m etl check`, "
        f"`{python} -m etl graph --mermaid`"
    )
    if report.state != "success" or drifted.state != "success" or not consistent:
        raise typer.Exit(1)


def _reconciled() -> bool:
    """Reconcile every table asset; one line when equal, the differences when not."""
    from etl.cli.render import show_reconciliation
    from etl.definitions import defs
    from etl.engine.declare.assets import TableAsset
    from etl.engine.observe.reconcile import reconcile_assets

    tables = [a for a in defs.graph.assets.values() if isinstance(a, TableAsset)]
    results = reconcile_assets(tables)
    differing = [r for r in results if not r.ok]
    if not differing:
        documents = sum(r.documents for r in results)
        console.print(
            f"[green]consistent[/]: {len(results)} table assets, {documents:,} documents — every "
            "one loaded exactly or rejected with its reason"
        )
        return True
    show_reconciliation(console, differing)
    console.print(
        f"[red]{len(differing)} asset(s) differ from MongoDB[/] "
        f"({', '.join(r.asset for r in differing)}): a run did not finish; run "
        f"`{_python_hint()} -m etl materialize` and then `reconcile` again"
    )
    return False


def _python_hint() -> str:
    """How to reach this virtualenv's Python from the project folder (system Python lacks the
    project's packages): `.venv/bin/python` when that is the one running, else its path."""
    if Path(sys.prefix).resolve() == Path(".venv").resolve():
        return ".venv/bin/python"
    return sys.executable


def register(app: typer.Typer) -> None:
    app.command()(demo)
