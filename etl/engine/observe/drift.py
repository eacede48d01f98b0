"""Schema drift, read from the field inventory the loader keeps (etl.engine.load.inventory).

A (path, type) first seen by a run after the asset's first load is drift: a new field, or a new
type of a known field. `drift` lists them, with the SQLModel column an unmapped new field would
become.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row


@dataclass(frozen=True)
class Drift:
    """A (path, type) an asset's documents started to hold after its first load."""

    asset: str
    path: str
    bson_type: str
    documents: int
    first_run: str
    first_seen_at: datetime
    kind: str
    """'new field' (the path was never seen before) or 'new type' (it was, with other types)."""
    presence: float
    """Documents with the path / documents loaded (from the `_id` row of the inventory)."""

    def describe(self) -> str:
        return f"{self.path} ({self.bson_type}, {self.kind}, {self.documents:,} documents)"

    def column(self) -> str:
        """The SQLModel field a new field would become (name, type, nullable)."""
        return suggest_column(self.path, [self.bson_type], self.presence)


def suggest_column(path: str, types: list[str], presence: float) -> str:
    """`name: type | None = Helper()` for a source field: the type from the observed BSON types
    (the most common one that is not null; mixed numbers widen), nullable unless every document
    has a non-null value."""
    name = path.replace("[]", "").rsplit(".", 1)[-1].lower()
    seen = [t for t in types if t != "null"]
    if {"int", "long", "double"} >= set(seen) and "double" in seen:
        kind = "double"
    elif set(seen) <= {"int", "long"} and "long" in seen:
        kind = "long"
    else:
        kind = seen[0] if seen else "string"
    python, helper = COLUMNS.get(kind, ("dict[str, Any]", "Json()"))
    optional = " | None" if presence < 1 or "null" in types else ""
    return f"{name}: {python}{optional} = {helper}"


COLUMNS = {
    "string": ("str", "Text()"),
    "int": ("int", "Field()"),
    "long": ("int", "Field(sa_type=sa.BigInteger)"),
    "double": ("float", "Field()"),
    "decimal": ("Decimal", "Field(sa_type=sa.Numeric)"),
    "date": ("datetime", "Timestamp()"),
    "bool": ("bool", "Field()"),
    "objectId": ("str", "Text()"),
}
ADOPT = (
    "to adopt a new field: add it to the model and read it in the transform, then "
    "`alembic revision --autogenerate -m ...`, `python -m etl migrate` and "
    "`python -m etl materialize {asset} --full-refresh`"
)

DRIFT = """
WITH baseline AS (  -- the run that loaded the asset first: what it saw is not drift
    SELECT DISTINCT ON (asset) asset, first_run FROM etl.field_inventory
    ORDER BY asset, first_seen_at
),
totals AS (
    SELECT asset, documents FROM etl.field_inventory WHERE path = '_id'
),
found AS (
    SELECT f.asset, f.path, f.bson_type, f.documents, f.first_run, f.first_seen_at,
        CASE WHEN EXISTS (
            SELECT 1 FROM etl.field_inventory o
            WHERE o.asset = f.asset AND o.path = f.path AND o.first_seen_at < f.first_seen_at
        ) THEN 'new type' ELSE 'new field' END AS kind,
        coalesce(f.documents::float / nullif((SELECT sum(documents) FROM totals t
            WHERE t.asset = f.asset), 0), 0) AS presence
    FROM etl.field_inventory f JOIN baseline b ON b.asset = f.asset
    WHERE f.first_run <> b.first_run AND (%(asset)s::text IS NULL OR f.asset = %(asset)s)
      AND (%(run)s::text IS NULL OR f.first_run = %(run)s)
)
-- a known field that starts holding null has no new shape: a missing value (the column's
-- nullability and the guards deal with it), not drift
SELECT * FROM found WHERE NOT (kind = 'new type' AND bson_type = 'null')
ORDER BY asset, first_seen_at, path, bson_type
"""


def drift(
    conn: psycopg.Connection, asset: str | None = None, run_id: str | None = None
) -> list[Drift]:
    """What appeared after each asset's first load (of one asset, or first seen by one run)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(DRIFT, {"asset": asset, "run": run_id}).fetchall()
    return [Drift(**row) for row in rows]
