"""What a materialised asset reports back (AssetResult) and how progress is reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AssetResult:
    documents_read: int = 0
    documents_unchanged: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_deleted: int = 0
    rejects: int = 0
    cursor_anomalies: int = 0
    """Documents read whose cursor value was missing, null, not a date or in the future."""
    watermark_before: dict[str, Any] | None = None
    watermark_after: dict[str, Any] | None = None
    note: str = ""

    def add_counts(
        self, read: int, unchanged: int, rejects: int, anomalies: int, rows: dict[str, int]
    ) -> None:
        """Add what a batch (or a range of a snapshot) did to these totals."""
        self.documents_read += read
        self.documents_unchanged += unchanged
        self.rejects += rejects
        self.cursor_anomalies += anomalies
        for table, count in rows.items():
            self.add_rows(table, count)

    def add_rows(self, table: str, count: int) -> None:
        if count:
            self.rows_written[table] = self.rows_written.get(table, 0) + count

    @property
    def total_rows(self) -> int:
        return sum(self.rows_written.values())


ProgressHook = Callable[[str, int, int | None], None]
"""(asset name, documents done so far, documents expected or None) — drives progress bars."""


def no_progress(asset: str, done: int, total: int | None) -> None:
    return None
