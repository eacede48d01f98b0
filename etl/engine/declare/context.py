"""What a running asset gets: the run's id, settings, connections and how it was asked to run.

Built once per run by the run layer (etl.engine.run.runner) and handed to whatever materialises
an asset; an ingest asset's function receives it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from etl.engine.values.lazy import cached_attribute
from etl.engine.values.ranges import RangeSource
from etl.engine.values.results import ProgressHook, no_progress
from etl.settings import Settings, get_settings


@dataclass
class RunContext:
    run_id: str
    full_refresh: bool = False
    settings: Settings = field(default_factory=get_settings)
    progress: ProgressHook = no_progress
    document_source: Callable[[str], Any] | None = None
    """Overrides where a table asset's documents come from (benchmarks feed in-memory docs)."""
    document_source_ordered: bool = False
    """`document_source` yields documents in (cursor, `_id`) order, as the server's read does."""
    upstream: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Each asset's upstream asset names in the graph being run (a mart reads its inputs')."""
    partitions: int | None = None
    """Ranges of a snapshot (first load, full refresh) of any table asset; None: the setting
    ETL_PARTITIONS for assets declared `partitioned`, one range (no split) for the others."""
    workers: int | None = None
    """Local processes loading those ranges; None: the setting ETL_WORKERS."""
    range_source: RangeSource | None = None
    """Overrides where partitioned snapshots read (benchmarks); None: MongoDB."""

    def upstream_of(self, asset: str) -> list[str]:
        return sorted(self.upstream.get(asset, ()))

    @cached_attribute
    def postgres_url(self) -> str:
        from etl.services.postgres import postgres_url

        return postgres_url(self.settings)

    @cached_attribute
    def mongo_uri(self) -> str:
        from etl.services.mongo import mongo_uri

        return mongo_uri(self.settings)

    @cached_attribute
    def mongo(self) -> Any:
        from etl.services.mongo import mongo_database

        self.mongo_uri  # noqa: B018  (noted now: naming a lost server later must not start one)
        return mongo_database(self.settings)
