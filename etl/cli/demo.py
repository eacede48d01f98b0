"""`python -m etl demo` (what `make demo` runs): the whole product on the embedded defaults."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from etl.cli.inspect import status
from etl.cli.pipeline import run_and_report
from etl.errors import mask_url
from etl.migrations import upgrade
from etl.services.mongo import mongo_database
from etl.services.postgres import postgres_url

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
) -> None:
    """Start the embedded services, migrate, generate data and run the whole pipeline.

    The first run writes a history; later runs let the live site make changes instead, so
    you see an incremental run pick up exactly what changed.
    """
    from generator.cli import counts_table, write_history
    from generator.shop import live_updates

    started = time.monotonic()
    step("1. services and schema")
    url = postgres_url()
    upgrade(url)
    console.print(f"PostgreSQL {mask_url(url)} migrated to the latest revision")
    db = mongo_database()

    step("2. raw documents in MongoDB")
    if db["user_sessions"].count_documents({}) == 0:
        written = write_history(scale, seed=42, dirty=dirty, drop=False)
        console.print(counts_table(written, f"wrote {sum(written.values()):,} documents"))
    else:
        changes = live_updates(db, 300)
        console.print(counts_table(changes, "the live site made these changes since last time"))

    step("3. materialise every asset")
    summary = run_and_report("*", full_refresh=False)

    step("4. status")
    status()
    console.print(
        f"demo finished in {time.monotonic() - started:.0f} s; "
        "try `python -m etl rejects`, `python -m etl graph --mermaid`"
    )
    if not summary.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(demo)
