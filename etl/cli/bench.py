"""`python -m etl bench`: load-path throughput and memory, next to the plain-COPY ceiling."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from etl.bench.run import Pass


console = Console()


class Compare(StrEnum):
    """Tools `bench --compare` can load the same documents with."""

    dlt = "dlt"


def bench(
    documents: Annotated[
        int, typer.Option("-n", "--documents", min=1, help="How many documents to load.")
    ] = 200_000,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Documents per batch (default: ETL_BATCH_SIZE).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic documents.")] = 42,
    partitions: Annotated[
        int,
        typer.Option(
            metavar="K",
            min=1,
            max=1024,
            help="Also time the first load as a partitioned snapshot of K `_id` ranges "
            "(1: skip that pass).",
        ),
    ] = 1,
    workers: Annotated[
        int,
        typer.Option(
            metavar="N", min=1, max=256, help="Processes loading the ranges (with --partitions)."
        ),
    ] = 2,
    compare: Annotated[
        Compare | None,
        typer.Option(
            help="Also load the same documents with another tool into the same server and "
            "print both (dlt: its merge on session_id; needs pip install -e '.\\[compare]').",
        ),
    ] = None,
    from_mongo: Annotated[
        bool,
        typer.Option(
            "--from-mongo/--no-from-mongo",
            help="Also insert the documents into a scratch database of the MongoDB server and "
            "time the first load through the real reader.",
        ),
    ] = True,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Instead of the batch passes: replicate user_sessions from a change stream "
            "(`etl stream`) while a burst of -n documents, then a steady --rate of changes for "
            "--seconds, is written; prints events/s into PostgreSQL and lag p50/p99.",
        ),
    ] = False,
    rate: Annotated[
        int, typer.Option(min=10, max=100_000, help="Changes a second (with --stream).")
    ] = 500,
    seconds: Annotated[
        float, typer.Option(min=1, max=3600, help="Length of the steady load (with --stream).")
    ] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Benchmark the real transform + load path on user_sessions-shaped documents.

    Runs in a scratch database (created and dropped) on the configured server: a plain COPY
    of pre-flattened rows (the ceiling), a first load (and again without the drift
    inventory, to show its cost), and a full refresh over unchanged
    documents; a reconcile of the loaded table against the same documents; then the
    incremental mart user_activity_daily, built in full and after one
    day's sessions were reloaded; then (unless --no-from-mongo) the same documents inserted
    into a scratch database of the MongoDB server and loaded from it, with where that time
    goes (the server's read, BSON decoding). With --partitions K: the first load again as a
    partitioned snapshot (K `_id` ranges, --workers processes). Prints documents/s, rows/s,
    peak RSS and the mart timings.
    """
    if stream:
        show_stream(documents, rate, seconds, seed, as_json)
        return
    from etl.bench.run import run_bench

    def show(p: Pass) -> None:
        if not as_json:
            console.print(f"  {p.name}: {p.docs_per_s:,.0f} docs/s in {p.seconds:.1f} s")

    if compare is Compare.dlt:
        from etl.compare import require_dlt

        require_dlt()
    if not as_json:
        console.print(f"benchmarking {documents:,} user_sessions documents…")
    result = run_bench(
        documents,
        seed=seed,
        batch_size=batch_size,
        partitions=partitions,
        workers=workers,
        compare=compare.value if compare else None,
        from_mongo=from_mongo,
        on_pass=show,
    )
    figures = result.figures()
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    table = Table(
        title=f"{documents:,} documents, batch {result.batch_size:,}", title_justify="left"
    )
    for header in ("pass", "documents", "rows", "seconds", "docs/s", "rows/s"):
        table.add_column(header, justify="left" if header == "pass" else "right")
    extra = [
        *([result.partitioned] if result.partitioned else []),
        *([result.from_mongo.load] if result.from_mongo else []),
        *result.compared,
    ]
    for p in [*result.passes, *extra]:
        table.add_row(
            p.name,
            f"{p.documents:,}",
            f"{p.rows:,}",
            f"{p.seconds:.2f}",
            f"{p.docs_per_s:,.0f}",
            f"{p.rows_per_s:,.0f}",
        )
    console.print(table)
    console.print(
        f"first load = {figures['first_load_vs_ceiling']:.0%} of the COPY ceiling; "
        f"unchanged re-run {figures['second_run_speedup']:.1f}x faster; the drift "
        f"inventory costs {figures['field_inventory_cost']:.0%} of first-load throughput; "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB (during the loads)"
    )
    if result.reconcile_s is not None:
        first = result.passes[1]
        console.print(
            f"reconcile of the {documents:,} loaded documents: {result.reconcile_s:.2f} s "
            f"({result.reconcile_s / first.seconds:.0%} of the first load's time)"
        )
    if result.partitioned:
        part = figures["partitioned"]
        rss = result.worker_peak_rss_mb
        console.print(
            f"partitioned first load ({result.partitions} ranges, {result.workers} workers): "
            f"{part['speedup_vs_single_process']:.2f}x the single process"
            + (f"; peak RSS of the largest worker {rss:.0f} MB" if rss else "")
        )
    if result.from_mongo:
        fm = result.from_mongo
        console.print(
            f"first load from MongoDB: {fm.load.docs_per_s:,.0f} docs/s ({fm.load.seconds:.1f} s; "
            f"inserting them took {fm.insert_s:.1f} s). Where the time goes, each part alone: "
            f"the server's sorted read {fm.server_read_s:.1f} s "
            f"({fm.load.documents / fm.server_read_s:,.0f} docs/s), BSON decoding "
            f"{fm.decode_s:.1f} s, transform + checks + PostgreSQL from memory "
            f"{result.passes[1].seconds:.1f} s (the first load above); reading overlaps the rest"
        )
    if result.compared:
        ours_first, ours_again = result.passes[1], result.passes[2]
        theirs_first, theirs_again = result.compared
        console.print(
            f"dlt: first load {theirs_first.docs_per_s:,.0f} docs/s "
            f"(ours {ours_first.docs_per_s / theirs_first.docs_per_s:.1f}x that), unchanged "
            f"re-run {theirs_again.seconds:.1f} s (ours {ours_again.seconds:.1f} s)"
        )
    if result.mart:
        m = result.mart
        console.print(
            f"user_activity_daily ({m.rows:,} rows): full build {m.full_s:.2f} s; "
            f"after one day was reloaded {m.one_day_s:.2f} s for {m.one_day_rows:,} rows "
            f"({m.full_s / m.one_day_s:.0f}x less)"
        )


def show_stream(documents: int, rate: int, seconds: float, seed: int, as_json: bool) -> None:
    """The change-stream passes (etl/bench/stream.py), as a table or JSON."""
    from dataclasses import asdict

    from etl.bench.stream import run_stream_bench

    if not as_json:
        console.print(
            f"streaming user_sessions: a burst of {documents:,} inserts, then {rate:,} changes/s "
            f"for {seconds:g} s…"
        )
    passes = run_stream_bench(documents, rate, seconds, seed)
    if as_json:
        typer.echo(json.dumps([asdict(p) | {"events_per_second": round(p.events_per_second, 1)}
                               for p in passes], indent=2))  # fmt: skip
        return
    table = Table(title="change stream → PostgreSQL", title_justify="left")
    for header in ("pass", "events", "seconds", "events/s", "offered/s", "lag p50", "lag p99"):
        table.add_column(header, justify="left" if header == "pass" else "right")
    for p in passes:
        offered = f"{p.offered_per_second:,.0f}" if p.offered_per_second else "max"
        table.add_row(
            p.name, f"{p.events:,}", f"{p.seconds:.2f}", f"{p.events_per_second:,.0f}", offered,
            f"{p.lag_p50_s:.2f} s", f"{p.lag_p99_s:.2f} s",
        )  # fmt: skip
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(bench)
