"""Proof that PostgreSQL holds what MongoDB holds, for one table asset.

One pass over the collection computes each document's `source_id` and content hash exactly as the
loader does (etl.engine.values.identity, etl.engine.values.raw.document_hash); they are COPYed into
a temp table and compared with the parent table in set-based SQL. Every document then falls in one
class:

- loaded: a row with the same `source_id` and hash;
- stale: a row whose hash differs (the document changed since it was loaded, or the transform
  did) and no newer reject explains it: the next incremental run rewrites it;
- rejected: no row, or a stale one, and a reject of the document newer than its row: see
  `python -m etl rejects`;
- missing: no row and no reject: something lost it.

Rows whose document is gone are `extra`. `ok` means no missing, stale or extra: outstanding
rejects are reported, not counted as differences (they are the contract working).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from etl.engine.declare.assets import TableAsset
from etl.engine.values.identity import source_key
from etl.engine.values.raw import SourceDocument, document_hash, hash_key, identify
from etl.migrations import require_current
from etl.settings import Settings, get_settings

SAMPLE = 5

COMPARE = """
WITH d AS (
    SELECT d.source_id, d.source_hash, t.source_id IS NOT NULL AS has_row,
        t.source_hash IS NOT DISTINCT FROM d.source_hash AS same,
        EXISTS (SELECT 1 FROM etl.rejects r WHERE r.asset = %(asset)s
                AND r.source_id = d.source_id
                AND (t.loaded_at IS NULL OR r.rejected_at >= t.loaded_at)) AS rejected
    FROM reconcile_docs d LEFT JOIN {table} t ON t.source_id = d.source_id
)
SELECT
    count(*) FILTER (WHERE has_row AND same),
    count(*) FILTER (WHERE has_row AND NOT same AND NOT rejected),
    count(*) FILTER (WHERE NOT (has_row AND same) AND rejected),
    count(*) FILTER (WHERE NOT has_row AND NOT rejected),
    (array_agg(source_id ORDER BY source_id) FILTER (WHERE has_row AND NOT same AND NOT rejected))
        [1:%(sample)s],
    (array_agg(source_id ORDER BY source_id) FILTER (WHERE NOT has_row AND NOT rejected))
        [1:%(sample)s]
FROM d
"""
EXTRA = """
SELECT count(*), (array_agg(t.source_id ORDER BY t.source_id))[1:%(sample)s]
FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM reconcile_docs d WHERE d.source_id = t.source_id)
"""


@dataclass
class Reconciliation:
    """How one table asset's parent table compares with its collection right now."""

    asset: str
    collection: str
    table: str
    documents: int = 0
    rows: int = 0
    loaded: int = 0
    stale: int = 0
    rejected: int = 0
    missing: int = 0
    extra: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)
    """A few `source_id`s per kind of difference (stale, missing, extra)."""

    @property
    def ok(self) -> bool:
        return self.stale == 0 and self.missing == 0 and self.extra == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}

    def summary(self) -> str:
        """One line for logs and checks: what differs, with example ids."""
        if self.ok:
            return f"{self.asset}: {self.documents:,} documents = {self.rows:,} rows" + (
                f" ({self.rejected:,} rejected)" if self.rejected else ""
            )
        parts = [
            f"{n:,} {kind}" + (f" (e.g. {', '.join(self.examples[kind][:3])})" if n else "")
            for kind, n in (("missing", self.missing), ("stale", self.stale), ("extra", self.extra))
            if n
        ]
        return f"{self.asset} differs from {self.collection}: " + "; ".join(parts)


def reconcile_assets(
    assets: Iterable[TableAsset],
    settings: Settings | None = None,
    on_asset: Callable[[TableAsset], None] = lambda asset: None,
) -> list[Reconciliation]:
    """Reconcile each asset against its collection on the configured databases."""
    from etl.services.mongo import READ_BATCH, mongo_database, raw_collection
    from etl.services.postgres import pg_connect, postgres_url

    settings = settings or get_settings()
    database = mongo_database(settings)
    results = []
    url = postgres_url(settings)
    with pg_connect(url) as conn:
        require_current(conn, url)
        for asset in assets:
            on_asset(asset)
            documents = raw_collection(database, asset.source).find({}, batch_size=READ_BATCH)
            results.append(reconcile(conn, asset, documents))
    return results


def reconcile(
    conn: psycopg.Connection, asset: TableAsset, documents: Iterable[SourceDocument]
) -> Reconciliation:
    """Compare `documents` (the whole collection) with the asset's parent table."""
    table = sql.Identifier(*asset.tables[0].split("."))
    key = hash_key(asset.code_version)
    result = Reconciliation(asset.name, asset.source, asset.tables[0])
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS reconcile_docs "
            "(source_id text, source_hash bytea) ON COMMIT DELETE ROWS"
        )
        with cur.copy("COPY reconcile_docs (source_id, source_hash) FROM STDIN") as copy:
            for raw in documents:
                try:
                    copy.write_row(identify(raw, key))
                except KeyError:  # no `_id` (only an in-memory source can hold one)
                    copy.write_row((source_key(None), document_hash(raw, key)))
                result.documents += 1
        cur.execute("ANALYZE reconcile_docs")
        params = {"asset": asset.name, "sample": SAMPLE}
        row = cur.execute(sql.SQL(COMPARE).format(table=table), params).fetchone()
        assert row is not None
        result.loaded, result.stale, result.rejected, result.missing = row[:4]
        extra = cur.execute(sql.SQL(EXTRA).format(table=table), params).fetchone()
        assert extra is not None
        result.extra = extra[0]
        count = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        result.rows = count[0] if count else 0
        for kind, sample in (("stale", row[4]), ("missing", row[5]), ("extra", extra[1])):
            if sample:
                result.examples[kind] = list(sample)
    return result
