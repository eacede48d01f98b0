"""Commands that look without changing anything: status, graph, rejects."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from etl.errors import UserFacingError

if TYPE_CHECKING:
    import psycopg

    from etl.engine.bookkeeping.positions import StreamPosition

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead.")]


def to_json(rows: list[dict[str, Any]]) -> str:
    """JSON with every timestamp and date in ISO-8601 (`2026-11-25T20:46:00+00:00`)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.hex()
        return str(value)

    return json.dumps(rows, default=plain, indent=2)


def warehouse() -> psycopg.Connection:
    """A connection to a warehouse at the code's schema revision (else one line, exit 2)."""
    from etl.migrations import require_current
    from etl.services.postgres import pg_connect, postgres_url

    url = postgres_url()
    conn = pg_connect(url)
    try:
        require_current(conn, url)
    except BaseException:
        conn.close()
        raise
    return conn


def status(as_json: JsonFlag = False) -> None:
    """Each asset's last run and status, current rows, outstanding rejects, cursor anomalies,
    watermark and age.

    A run whose process died (killed, or lost its database) shows as `interrupted`. Rejects
    counts documents whose latest reject has not been followed by a load of a newer version.
    Anomalies counts documents of the last run whose updated_at was missing, not a date or in
    the future (they are loaded or rejected by every run; see the README). Streamed assets
    (`stream`) get a line each: state, events, lag, heals of a lost position, last error.
    """
    from etl.cli.render import status_table
    from etl.definitions import defs
    from etl.engine.bookkeeping.positions import positions
    from etl.engine.observe.status import asset_status

    graph = defs.graph
    with warehouse() as conn:
        rows = asset_status(conn, graph)
        notes = open_snapshots(conn) + pending_refreshes(conn)
        streamed = positions(conn)
    streams = stream_lines(streamed)
    by_asset = {p.asset: asdict(p) for p in streamed}
    if as_json:
        typer.echo(to_json([row | {"stream": by_asset.get(row["asset"])} for row in rows]))
        return
    console.print(status_table(rows))
    for line in notes:
        console.print(f"[yellow]{line}[/]")
    for line in streams:
        console.print(line, highlight=False)


def open_snapshots(conn: Any) -> list[str]:
    """A line per unfinished partitioned snapshot: how far it got and what the next run does."""
    from etl.engine.snapshots.snapshot import current_snapshot

    lines = []
    for (asset,) in conn.execute(
        "SELECT asset FROM etl.snapshots WHERE status = 'open' ORDER BY asset"
    ).fetchall():
        snapshot = current_snapshot(conn, asset)
        if snapshot is None:
            continue
        failed = [r for r in snapshot.ranges if r.status == "failed"]
        running = [r for r in snapshot.ranges if r.status == "running"]
        detail = f"; range {failed[0].index} failed: {failed[0].error}" if failed else ""
        busy = f"; {len(running)} range(s) under way or interrupted" if running else ""
        lines.append(
            f"{asset}: {snapshot.describe()}{busy}{detail}; the next run of the asset resumes it"
        )
    return lines


def stream_lines(streamed: list[StreamPosition]) -> list[str]:
    """A line per streamed asset: state, events and rate, lag, heals of a lost position."""
    lines = []
    for p in streamed:
        state = f"{p.state} (live)" if p.live else p.state
        if p.live and p.started_at and p.updated_at:
            seconds = max((p.updated_at - p.started_at).total_seconds(), 1e-9)
            rate = f" ({p.events / seconds:,.1f}/s)"
        else:
            rate = ""
        lag = f", lag {p.lag_seconds:.2f} s" if p.lag_seconds is not None else ""
        heals = ""
        if p.heals:
            when = p.last_heal_at.strftime("%Y-%m-%d %H:%M") if p.last_heal_at else "?"
            heals = f"; position lost and healed {p.heals}x (last {when}: {p.last_error})"
        elif p.last_error:
            heals = f"; last error: {p.last_error}"
        last = f", last event {p.last_event_at:%Y-%m-%d %H:%M:%S}" if p.last_event_at else ""
        lines.append(
            f"{p.asset}: stream {state}, {p.events:,} events this run{rate}{last}{lag}{heals}"
        )
    return lines


def pending_refreshes(conn: Any) -> list[str]:
    """A line per full refresh that was asked for and has not finished (a run that died)."""
    rows = conn.execute("SELECT asset, run_id FROM etl.refresh_requests ORDER BY asset").fetchall()
    return [
        f"{asset}: the full refresh asked for by run {run_id} has not finished; "
        "the next run of the asset does it"
        for asset, run_id in rows
    ]


def graph(
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print a Mermaid flowchart (paste into Markdown).")
    ] = False,
) -> None:
    """The asset graph: groups, inputs (Mongo collections and assets) and output tables."""
    from etl.definitions import defs

    asset_graph = defs.graph
    typer.echo(asset_graph.to_mermaid() if mermaid else asset_graph.to_text())


def rejects(
    asset: Annotated[str | None, typer.Argument(help="Only this asset's rejects.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The rejected documents, newest first: one row per document (its latest reject), with
    every reason, and totals: documents ever rejected, those still outstanding (not loaded
    since in a newer version: what `status` counts), and reject records over all runs."""
    from etl.cli.render import records
    from etl.definitions import defs
    from etl.engine.observe.status import asset_status, latest_rejects, reject_totals

    graph = defs.graph
    if asset is not None and asset not in graph.assets:
        graph.select(asset)  # raises with close-match suggestions
        raise UserFacingError(f"unknown asset {asset!r}")
    with warehouse() as conn:
        rows = latest_rejects(conn, asset, limit)
        documents, reject_records = reject_totals(conn, asset)
        outstanding = sum(
            row["rejects"] or 0
            for row in asset_status(conn, graph)
            if asset is None or row["asset"] == asset
        )
    if as_json:
        typer.echo(to_json(rows))
        return
    if not rows:
        console.print("no rejects" + (f" for {asset}" if asset else ""))
        return
    title = (
        f"{len(rows)} of {documents:,} rejected documents, newest first; {outstanding:,} "
        f"still outstanding (as status counts them); {reject_records:,} rejects over all runs"
    )
    records(
        console,
        title,
        ("when", "asset", "source _id", "reasons"),
        [
            (
                row["rejected_at"].strftime("%Y-%m-%d %H:%M:%S"),
                row["asset"],
                escape(row["source_id"] or "-"),  # whole: look-alike ids must be told apart
                escape("\n".join(row["reasons"])),
            )
            for row in rows
        ],
    )


def reconcile(
    selection: Annotated[
        str,
        typer.Argument(help="Assets to compare (selection syntax; non-table assets are skipped)."),
    ] = "*",
    as_json: JsonFlag = False,
) -> None:
    """Prove MongoDB = PostgreSQL for table assets: counts, keys both ways, content hashes.

    Reads every document of each selected asset's collection once (hashing it as the loader
    does) and compares with the parent table: stale rows (the document changed since it was
    loaded), missing documents (no row and no reject), extra rows (the document is gone), and
    documents currently rejected. Exits 1 when anything is stale, missing or extra.
    """
    from etl.cli.render import show_reconciliation
    from etl.definitions import defs
    from etl.engine import TableAsset
    from etl.engine.observe.reconcile import reconcile_assets

    graph = defs.graph
    assets = [graph.assets[n] for n in graph.select(selection)]
    tables = [a for a in assets if isinstance(a, TableAsset)]
    if not tables:
        raise UserFacingError(f"no table assets in selection {selection!r}")
    with console.status("reconciling…") as spinner:
        results = reconcile_assets(
            tables, on_asset=lambda a: spinner.update(f"reconciling {a.name} ({a.source})…")
        )
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        show_reconciliation(console, results)
        for r in results:
            for kind, ids in r.examples.items():
                console.print(f"[yellow]{r.asset}[/] {kind}: {', '.join(ids)}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def drift(
    asset: Annotated[str | None, typer.Argument(help="Only this asset's drift.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fields and types the documents started to hold after each asset's first load: when they
    appeared (run), in how many documents, and the SQLModel column a new field would become."""
    from etl.cli.render import records
    from etl.definitions import defs
    from etl.engine.observe.drift import ADOPT
    from etl.engine.observe.drift import drift as find_drift

    if asset is not None and asset not in defs.graph.assets:
        defs.graph.select(asset)  # raises with close-match suggestions
    with warehouse() as conn:
        found = find_drift(conn, asset)
    if as_json:
        typer.echo(to_json([asdict(d) | {"column": d.column()} for d in found]))
        return
    if not found:
        console.print("no drift" + (f" in {asset}" if asset else "") + " since the first load")
        return
    records(
        console,
        "schema drift since each asset's first load",
        ("asset", "field", "type", "kind", "docs", "first seen (run)", "column"),
        [
            (
                d.asset,
                escape(d.path),
                d.bson_type,
                d.kind,
                f"{d.documents:,}",
                d.first_run,
                d.column() if d.kind == "new field" else "-",
            )
            for d in found
        ],
        numeric=("docs",),
    )
    console.print(ADOPT.format(asset=asset or "ASSET"))


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(drift)
    app.command()(reconcile)
    app.command()(graph)
    app.command()(rejects)
