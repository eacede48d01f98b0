"""Commands that run things: materialize, check, docs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from etl.cli.progress import asset_progress
from etl.cli.render import summary_table
from etl.engine import RunSummary, load_graph, materialize

console = Console()

SelectionArg = Annotated[
    str,
    typer.Argument(
        help="Assets to run: NAME, NAME+ (with downstream), +NAME (with upstream), "
        "group:GROUP, '*' (all); several separated by commas or spaces.",
        show_default=True,
    ),
]


def run_and_report(selection: str, full_refresh: bool) -> RunSummary:
    """Materialise with a progress display and print the summary table (shared with `demo`)."""
    graph = load_graph()
    graph.select(selection)  # fail on a bad selection before starting anything
    with asset_progress(console) as progress:
        summary = materialize(selection, full_refresh=full_refresh, graph=graph, progress=progress)
    console.print(summary_table(summary))
    for outcome in summary.outcomes:
        if outcome.error:
            colour = "red" if outcome.status == "failed" else "yellow"
            console.print(f"[{colour}]{outcome.name} {outcome.status}:[/] {outcome.error}")
    return summary


def materialize_command(
    selection: SelectionArg = "*",
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Re-read every document (not only those changed since the watermark) and "
            "delete rows whose source document no longer exists.",
        ),
    ] = False,
) -> None:
    """Materialise the selected assets in dependency order.

    Incremental by default: each table asset reads only documents changed since its watermark.
    Exits 1 if any asset failed (its downstream assets are skipped, unrelated ones still run).
    """
    summary = run_and_report(selection, full_refresh)
    if not summary.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("materialize")(materialize_command)
