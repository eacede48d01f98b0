"""`python -m generator`: fill MongoDB (the RAW layer) like a live web shop would.

python -m generator --once --scale 2000 --seed 7 [--dirty 0.05] [--drop]
python -m generator --continuous --rate 20 [--duration 60]
python -m generator aviasales --help
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.cli.errors import FriendlyGroup
from etl.services.mongo import mongo_database, read_collection
from etl.settings import get_settings
from generator.aviasales.cli import app as aviasales_app
from generator.shop import live_updates, write_once
from generator.shop.store import ensure_indexes

console = Console()
app = typer.Typer(
    cls=FriendlyGroup,
    help="Fill MongoDB with a web shop's raw documents (and Aviasales searches, see `aviasales`).",
    add_completion=False,
    rich_markup_mode="rich",
)


def write_history(
    scale: int, seed: int, dirty: float, drop: bool, now: datetime | None = None
) -> dict[str, int]:
    """`--once`: a deterministic history, with a progress bar (also used by `demo-data`)."""
    db = mongo_database(login="generator")
    with Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(collection: str, done: int, total: int) -> None:
            if collection not in tasks:
                tasks[collection] = bar.add_task(collection, total=total)
            bar.update(tasks[collection], completed=done)

        return write_once(
            db,
            scale,
            seed,
            dirty,
            drop=drop,
            batch_size=get_settings().batch_size,
            progress=progress,
            now=now,
        )


def utc_now() -> datetime:
    """Now as MongoDB stores it: naive UTC, to the millisecond."""
    moment = datetime.now(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def counts_table(db_counts: dict[str, int], title: str, unit: str = "documents") -> Table:
    """Per collection: documents written, or (`unit="changes"`) inserts and updates made."""
    table = Table(title=title, title_justify="left")
    table.add_column("collection")
    table.add_column(unit, justify="right")
    for name, count in db_counts.items():
        table.add_row(name, f"{count:,}")
    return table


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Write a bulk history and exit.")] = False,
    continuous: Annotated[
        bool, typer.Option("--continuous", help="Keep the site alive until Ctrl-C.")
    ] = False,
    scale: Annotated[
        int, typer.Option(min=1, help="--once: about this many sessions (other collections scale).")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same documents.")] = 42,
    dirty: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fraction of documents given a realistic fault.")
    ] = 0.0,
    drop: Annotated[
        bool, typer.Option("--drop", help="--once: empty the collections first.")
    ] = False,
    until_now: Annotated[
        bool,
        typer.Option(
            "--until-now",
            help="--once: end the history now, not at the fixed 2026-11-01 12:00 UTC (the same "
            "seed then gives the same documents shifted in time).",
        ),
    ] = False,
    rate: Annotated[float, typer.Option(min=0.1, help="--continuous: changes per second.")] = 10.0,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="--continuous: stop after this many seconds.")
    ] = None,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="--continuous: change shape, as real sources do: new events get a field no "
            "transform reads and some an integer user_id (see `python -m etl drift`).",
        ),
    ] = False,
) -> None:
    """Write shop documents: a bulk history (--once) or a live site (--continuous)."""
    if ctx.invoked_subcommand is not None:
        return
    if once == continuous:
        raise typer.BadParameter("choose exactly one of --once and --continuous")
    if once:
        written = write_history(scale, seed, dirty, drop, utc_now() if until_now else None)
        console.print(counts_table(written, f"wrote {sum(written.values()):,} documents"))
        return
    run_live(rate, duration, seed, drift)


def run_live(rate: float, duration: float | None, seed: int, drift: bool = False) -> None:
    db = mongo_database(login="generator")
    ensure_indexes(db)
    totals: dict[str, int] = {}
    started = time.monotonic()
    until = f"for {duration:g} s (Ctrl-C stops it sooner)" if duration else "until Ctrl-C"
    console.print(f"live site: {rate:g} changes/s {until}")
    try:
        step = 0
        while duration is None or time.monotonic() - started < duration:
            for name, n in live_updates(db, 1, seed=seed + step, drift=drift).items():
                totals[name] = totals.get(name, 0) + n
            step += 1
            time.sleep(max(0.0, started + step / rate - time.monotonic()))
    except KeyboardInterrupt:
        console.print("stopped")
    console.print(counts_table(totals, f"{sum(totals.values()):,} changes", unit="changes"))


@app.command("demo-data")
def demo_data(
    scale: Annotated[int, typer.Option(min=1, help="Sessions of the first history.")] = 2000,
    dirty: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fraction of documents given a fault.")
    ] = 0.02,
    backfill_days: Annotated[
        int, typer.Option(min=0, max=365, help="Days of air-fare searches to backfill.")
    ] = 14,
    changes: Annotated[
        int, typer.Option(min=0, help="Live-site changes when a history already exists.")
    ] = 300,
    drift: Annotated[
        bool, typer.Option("--drift", help="Let those changes drift (see --continuous --drift).")
    ] = False,
) -> None:
    """What `python -m etl demo` writes: a shop history and backfilled fares the first time,
    then live-site changes on every later run (fares are searched again by the DAG)."""
    from generator.aviasales.cli import backfill
    from ingest.aviasales.log import LOG_COLLECTION

    db = mongo_database(login="generator")
    if read_collection(db, "user_sessions").count_documents({}) == 0:
        # the history ends now, like the fares: one clock for both domains
        written = write_history(scale, seed=42, dirty=dirty, drop=False, now=utc_now())
        console.print(counts_table(written, f"wrote {sum(written.values()):,} documents"))
    else:
        made = live_updates(db, changes, drift=drift)
        title = "the live site made these changes since last time"
        console.print(counts_table(made, title, unit="changes"))
    if backfill_days and read_collection(db, LOG_COLLECTION).count_documents({}) == 0:
        console.print(f"air fares: searching as of each of the last {backfill_days} days…")
        backfill(days=backfill_days)


app.add_typer(aviasales_app, name="aviasales")
