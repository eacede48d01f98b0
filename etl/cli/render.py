"""Rich tables for run summaries, status and rejects: what people read after a command."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from etl.engine import RunSummary
    from etl.engine.observe.reconcile import Reconciliation


STATUS_STYLE = {
    "success": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "running": "cyan",
    "interrupted": "bold magenta",
}


def plain_table(title: str, padding: int = 1) -> Table:
    """The CLI's table style: a title on the left, a rule under the header, no vertical rules."""
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, padding)
    )


def asset_table(
    title: str, numbers: tuple[str, ...], last: tuple[str, ...] = (), padding: int = 1
) -> Table:
    """A one-line-per-asset table that fits 80 columns: no vertical rules, names never cut,
    then right-aligned `numbers` and left-aligned `last` columns."""
    table = plain_table(title, padding)
    table.add_column("asset", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for header in numbers:
        table.add_column(header, justify="right", no_wrap=True)
    for header in last:
        table.add_column(header, no_wrap=True)
    return table


def summary_table(summary: RunSummary) -> Table:
    """One line per asset, at most 80 columns wide, names never cut."""
    table = asset_table(f"run {summary.run_id}", ("read", "unchanged", "rows", "rejects", "secs"))
    for o in summary.outcomes:
        r = o.result
        table.add_row(
            o.name,
            f"[{STATUS_STYLE.get(o.status, '')}]{o.status}[/]",
            f"{r.documents_read:,}",
            f"{r.documents_unchanged:,}",
            f"{r.total_rows:,}",
            f"{r.rejects:,}",
            f"{o.seconds:.2f}",
        )
    return table


def summary_notes(summary: RunSummary) -> list[str]:
    """What the table has no column for: deletions and cursor anomalies, one line per asset."""
    notes = []
    skipped = [o.name for o in summary.outcomes if o.result.note.startswith("skipped")]
    if skipped:
        notes.append(
            f"{len(skipped)} mart(s) not rebuilt, their inputs unchanged since their last build: "
            + ", ".join(skipped)
        )
    for o in summary.outcomes:
        r = o.result
        if r.rows_deleted:
            notes.append(f"{o.name}: removed {r.rows_deleted:,} rows of deleted documents")
        if r.cursor_anomalies:
            notes.append(
                f"{o.name}: {r.cursor_anomalies:,} documents have an updated_at that is missing, "
                "not a date or in the future (read by every run; see README, incremental contract)"
            )
    return notes


def age(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    seconds = (datetime.now(UTC) - ts).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def status_table(rows: list[dict[str, Any]]) -> Table:
    """One line per asset that fits 80 columns with names never cut: the run id, kind, table
    and full timestamps are in `status --json`; the anomalies column appears when there are."""
    anomalies = any(row.get("cursor_anomalies") for row in rows)
    drift = any(row.get("drift") for row in rows)
    legend = ["rej.: outstanding rejected documents"]
    legend += ["anom.: cursor anomalies in the last run"] if anomalies else []
    legend += ["drift: new fields or types in the last run"] if drift else []
    table = asset_table(
        f"assets ({'; '.join(legend)}; times UTC)",
        ("rows", "rej.", *(("anom.",) if anomalies else ()), *(("drift",) if drift else ())),
        ("watermark", "ran"),
        padding=0,  # the longest mart name and every column in 80
    )
    for row in rows:
        status = row["status"] or "never run"
        mark = row["watermark"]
        counts = [
            f"{row['rows']:,}" if row["rows"] is not None else "-",
            f"{row['rejects']:,}" if row["rejects"] else "-",
        ]
        if anomalies:
            counts.append(f"{row['cursor_anomalies']:,}" if row.get("cursor_anomalies") else "-")
        if drift:
            counts.append(f"{row['drift']:,}" if row.get("drift") else "-")
        table.add_row(
            row["asset"],
            f"[{STATUS_STYLE.get(status, 'dim')}]{status}[/]",
            *counts,
            mark[5:16].replace("T", " ") if mark else "-",
            age(row["finished_at"]).removesuffix(" ago"),
        )
    return table


RECONCILE_COLUMNS = (
    ("docs", "documents"),
    ("rows", "rows"),
    ("loaded", "loaded"),
    ("rej.", "rejected"),
    ("stale", "stale"),
    ("miss.", "missing"),
    ("extra", "extra"),
)
"""(header, Reconciliation field): headers short enough that 9 columns fit 80."""


def show_reconciliation(console: Console, results: list[Reconciliation]) -> None:
    """One line per asset when it fits, names never cut: docs = documents in MongoDB, rows =
    parent rows, rej. = documents currently rejected, miss. = neither row nor reject."""
    records(
        console,
        "MongoDB vs PostgreSQL (docs: documents; rej.: rejected; miss.: missing)",
        ("asset", "result", *(h for h, _ in RECONCILE_COLUMNS)),
        [
            (
                r.asset,
                "[green]equal[/]" if r.ok else "[bold red]differs[/]",
                *(f"{getattr(r, f):,}" for _, f in RECONCILE_COLUMNS),
            )
            for r in results
        ],
        numeric=tuple(h for h, _ in RECONCILE_COLUMNS),
        padding=0,
    )


def records(
    console: Console,
    title: str,
    headers: tuple[str, ...],
    rows: list[tuple[str, ...]],
    *,
    numeric: tuple[str, ...] = (),
    padding: int = 1,
) -> None:
    """Print `rows` as a table when it fits the terminal with every cell whole, else one block
    per row (`header: value` lines, like psql's expanded display): a name, a field path or an
    `_id` is never cut or split mid-word, at 80 columns or 200."""
    table = plain_table(title, padding)
    for header in headers:
        table.add_column(header, no_wrap=True, justify="right" if header in numeric else "left")
    for row in rows:
        table.add_row(*row)
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    if natural <= console.width:
        console.print(table)
        return
    console.print(f"[italic]{title}[/]")
    label = max(len(h) for h in headers)
    room = max(console.width - label - 2, 20)
    for row in rows:
        console.rule(style="dim")
        for header, value in zip(headers, row, strict=True):
            lines = [
                wrapped
                for line in value.splitlines() or [""]
                for wrapped in textwrap.wrap(
                    line, room, break_long_words=False, break_on_hyphens=False
                )
                or [""]
            ]
            console.print(f"{header:>{label}}: {lines[0]}", overflow="fold", highlight=False)
            for line in lines[1:]:  # a hanging indent under the value
                console.print(f"{'':>{label}}  {line}", overflow="fold", highlight=False)
