"""`python -m etl report`: the analytics report (HTML page + PNG charts) built from the marts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def report(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            file_okay=False,
            help="Folder for index.html and PNGs (default: ETL_REPORT_DIR or LOCAL_DIR/report).",
        ),
    ] = None,
) -> None:
    """Build a self-contained HTML analytics report of the marts (schema dwh).

    Charts, each also saved as OUT/<name>.png:
    - price_dynamics: each route's cheapest fares, search day by search day
    - booking_window: price index by days before departure, best window marked
    - route_prices: average and median fare per route, cheapest airline
    - user_activity: daily active users and sessions per day
    - support_sla: median/p90 time to close, opened vs closed, per issue type
    - moderation_backlog: most pending reviews per product, oldest one's age
    Tables: top 10 price movers, top 10 search terms, weekday price index.

    OUT/index.html opens offline (inline CSS, embedded charts); its path is
    printed at the end. A mart not built yet shows "No data yet" instead.
    """
    from etl.report import build_report  # matplotlib loads only for this command

    started = time.monotonic()
    with console.status("building the report…") as spinner:
        index = build_report(out, on_step=lambda what: spinner.update(f"{what}…"))
    console.print(f"report built in {time.monotonic() - started:.1f} s")
    typer.echo(str(index.resolve()))


def register(app: typer.Typer) -> None:
    app.command()(report)
