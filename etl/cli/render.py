"""Rich tables for run summaries, status and rejects: what people read after a command."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from etl.engine import RunSummary

STATUS_STYLE = {"success": "green", "failed": "bold red", "skipped": "yellow", "running": "cyan"}


def summary_table(summary: RunSummary) -> Table:
    table = Table(title=f"run {summary.run_id}", title_justify="left")
    for header in ("asset", "status", "docs read", "unchanged", "rows written", "rejects"):
        table.add_column(header, justify="left" if header in ("asset", "status") else "right")
    table.add_column("seconds", justify="right")
    table.add_column("docs/s", justify="right")
    for o in summary.outcomes:
        r = o.result
        status = f"[{STATUS_STYLE.get(o.status, '')}]{o.status}[/]"
        table.add_row(
            o.name,
            status,
            f"{r.documents_read:,}",
            f"{r.documents_unchanged:,}",
            f"{r.total_rows:,}",
            f"{r.rejects:,}",
            f"{o.seconds:.2f}",
            f"{o.docs_per_second:,.0f}" if r.documents_read else "-",
        )
    return table


def age(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    seconds = (datetime.now(UTC) - ts).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def status_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="assets", title_justify="left")
    for header in ("asset", "kind", "last run", "status", "rows", "rejects", "watermark", "age"):
        table.add_column(header, justify="right" if header in ("rows", "rejects") else "left")
    for row in rows:
        status = row["status"] or "never run"
        table.add_row(
            row["asset"],
            row["kind"],
            row["run_id"] or "-",
            f"[{STATUS_STYLE.get(status, 'dim')}]{status}[/]",
            f"{row['rows']:,}" if row["rows"] is not None else "-",
            f"{row['rejects']:,}" if row["rejects"] is not None else "-",
            row["watermark"] or "-",
            age(row["finished_at"]),
        )
    return table
