"""`python -m etl stream`: continuous replication from change streams, with a live table."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from etl.cli.pipeline import SelectionArg

if TYPE_CHECKING:
    from etl.engine.run.stream import StreamFigures

console = Console()


def stream_command(
    selection: SelectionArg = "*",
    for_seconds: Annotated[
        float | None,
        typer.Option(
            "--for",
            metavar="SECONDS",
            min=0,
            help="Stop after this many seconds (finishing the batch in hand). Default: run "
            "until Ctrl-C or SIGTERM.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per batch (one transaction) at most.")
    ] = 1_000,
    max_wait: Annotated[
        float,
        typer.Option(
            min=0.01, max=60, help="Seconds a batch waits for more events after its first."
        ),
    ] = 0.5,
) -> None:
    """Replicate the selected table assets continuously from MongoDB change streams.

    One change stream per collection. Inserts, replaces and updates load the document's current
    state through the same transform, checks and rejects as `materialize`; deletes delete its
    rows. Each batch's rows and its resume token commit in one transaction, so a killed stream
    resumes where it stopped. An asset never loaded is loaded first (the stream's start is taken
    before). A lost position (history gone from the oplog) is healed by an incremental load,
    never a full re-sync. Holds each asset's lock: a `materialize` of it waits. Needs a replica
    set or the embedded server (change streams).
    """
    from etl.definitions import defs
    from etl.engine.run.stream import StreamOptions

    defs.graph.select(selection)  # a bad selection fails here, with suggestions
    stop = threading.Event()
    figures: dict[str, StreamFigures] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            options = StreamOptions(batch_size=batch_size, max_wait=max_wait)
            defs.stream(selection, stop=stop, options=options, on_start=figures.update)
        except BaseException as exc:  # shown by the main thread
            failure.append(exc)

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    timer = threading.Timer(for_seconds, stop.set) if for_seconds is not None else None
    worker = threading.Thread(target=run, name="stream", daemon=True)
    try:
        if timer is not None:
            timer.start()
        worker.start()
        with Live(live_table(figures), console=console, refresh_per_second=2) as live:
            while worker.is_alive():
                worker.join(0.5)
                live.update(live_table(figures))
    finally:
        if timer is not None:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure:
        raise failure[0]
    failed = [f for f in figures.values() if f.state == "failed"]
    for f in failed:
        console.print(f"[red]{f.asset} failed:[/] {f.last_error}")
    if failed:
        raise typer.Exit(1)


def live_table(figures: dict[str, StreamFigures]) -> Table:
    """A line per streamed asset that fits 80 columns, names never cut: state, events, events
    per second, lag of the last event (its server time to the commit), rows written, rows
    deleted, rejects, heals of a lost position."""
    from etl.cli.render import STATUS_STYLE, asset_table

    table = asset_table(
        "change streams (lag: event to commit; del.: rows deleted; rej.: rejects)",
        ("events", "ev/s", "lag", "rows", "del.", "rej.", "heals"),
        padding=0,  # the longest asset name and every column in 80
    )
    styles = STATUS_STYLE | {"streaming": "green", "loading": "cyan", "healing": "yellow"}
    for f in figures.values():
        lag = f"{f.lag:.2f}s" if f.lag is not None else "-"
        table.add_row(
            f.asset, f"[{styles.get(f.state, 'dim')}]{f.state}[/]", f"{f.events:,}",
            f"{f.events_per_second:,.0f}", lag, f"{f.rows:,}", f"{f.deleted:,}",
            f"{f.rejects:,}", f"{f.heals}",
        )  # fmt: skip
    return table


def register(app: typer.Typer) -> None:
    app.command("stream")(stream_command)
