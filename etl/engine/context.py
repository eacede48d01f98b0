"""What a running asset gets (RunContext) and what it reports back (AssetResult)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from etl.settings import Settings, get_settings

if TYPE_CHECKING:
    from etl.engine.graph import AssetGraph
    from etl.engine.partitions import RangeSource


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


def _no_progress(asset: str, done: int, total: int | None) -> None:
    return None


@dataclass
class RunContext:
    run_id: str
    full_refresh: bool = False
    settings: Settings = field(default_factory=get_settings)
    progress: ProgressHook = _no_progress
    document_source: Callable[[str], Any] | None = None
    """Overrides where a table asset's documents come from (benchmarks feed in-memory docs)."""
    document_source_ordered: bool = False
    """`document_source` yields documents in (cursor, `_id`) order, as the server's read does."""
    graph: AssetGraph | None = None
    """The graph being materialised (a mart asks it for its upstream assets)."""
    partitions: int | None = None
    """Ranges of a snapshot (first load, full refresh) of any table asset; None: the setting
    ETL_PARTITIONS for assets declared `partitioned`, one range (no split) for the others."""
    workers: int | None = None
    """Local processes loading those ranges; None: the setting ETL_WORKERS."""
    range_source: RangeSource | None = None
    """Overrides where partitioned snapshots read (benchmarks); None: MongoDB."""

    def upstream_of(self, asset: str) -> list[str]:
        return sorted(self.graph.upstream.get(asset, ())) if self.graph else []

    @cached_property
    def postgres_url(self) -> str:
        from etl.services.postgres import postgres_url

        return postgres_url(self.settings)

    @cached_property
    def mongo_uri(self) -> str:
        from etl.services.mongo import mongo_uri

        return mongo_uri(self.settings)

    @cached_property
    def ranges(self) -> RangeSource:
        """Where partitioned snapshots split and read collections."""
        from etl.engine.partitions import MongoRanges

        return self.range_source or MongoRanges(self.mongo)

    @cached_property
    def mongo(self) -> Any:
        from etl.services.mongo import mongo_database

        self.mongo_uri  # noqa: B018  (noted now: naming a lost server later must not start one)
        return mongo_database(self.settings)
