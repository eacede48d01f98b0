"""Asset checks: hand-written expectations declared against the asset object they check.

A check is data (a Great Expectations expectation type, its kwargs and a severity), declared
next to the asset it belongs to and listed in the project's `Definitions`. It names the asset,
not a table string, so a typo is an `AttributeError` in the declaring module; the table defaults
to the asset's main table and must be one the asset writes; the columns it names must exist
(for model tables); and a query that reads another table must declare that table's asset in
`reads` (the DAG then runs the check after that asset too). `Definitions` verifies all of that
when it is built, naming what is wrong.

Great Expectations itself is not imported here: etl.quality turns checks into GX objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from etl.engine.declare.assets import Asset, TableAsset
from etl.engine.values.errors import AssetDeclarationError
from models.base import table_of

Severity = Literal["blocking", "warning"]
SEVERITIES: tuple[Severity, ...] = ("blocking", "warning")
COLUMN_ARGUMENTS = ("column", "column_A", "column_B")
_QUALIFIED = re.compile(r"\b(shop|aviasales|dwh|etl)\.([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True)
class AssetCheck:
    """One expectation about one table of `asset` (blocking: a failure stops downstream)."""

    asset: Asset
    expectation: str
    severity: Severity = "blocking"
    description: str | None = None
    table: str | None = None
    reads: tuple[Asset, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def target(self) -> str:
        """The qualified table the check validates."""
        return self.table or self.asset.tables[0]

    def problems(self, known_tables: set[str]) -> list[str]:
        """What is wrong with this declaration (empty when it is sound)."""
        label = f"check {self.description or self.expectation!r} of asset {self.asset.name!r}"
        out = []
        if self.severity not in SEVERITIES:
            out.append(f"{label}: severity must be 'blocking' or 'warning'")
        if self.target not in self.asset.tables:
            out.append(f"{label}: table {self.target!r} is not written by the asset")
        columns = _columns_of(self.asset, self.target)
        named = [self.kwargs[k] for k in COLUMN_ARGUMENTS if k in self.kwargs]
        named += list(self.kwargs.get("column_list", ()))
        for column in named:
            if columns is not None and column not in columns:
                out.append(f"{label}: {self.target} has no column {column!r}")
        allowed = {self.target, *self.asset.tables, *(t for a in self.reads for t in a.tables)}
        query = str(self.kwargs.get("unexpected_rows_query", ""))
        for schema, name in _QUALIFIED.findall(query):
            table = f"{schema}.{name}"
            if table not in known_tables:
                out.append(f"{label}: its query reads unknown table {table!r}")
            elif table not in allowed:
                out.append(f"{label}: its query reads {table!r}: declare its asset in reads=")
        return out


def asset_check(
    asset: Asset,
    expectation: str,
    severity: Severity = "blocking",
    *,
    description: str | None = None,
    table: str | None = None,
    reads: tuple[Asset, ...] = (),
    **kwargs: Any,
) -> AssetCheck:
    """Declare a check of `asset` (or of `table`, one of the tables it writes).

    `expectation` is a GX expectation type ("expect_column_values_to_be_between", ...) with its
    kwargs. In an `unexpected_rows_query`, `{batch}` is the checked table.
    """
    if severity not in SEVERITIES:
        raise AssetDeclarationError(f"severity must be 'blocking' or 'warning', not {severity!r}")
    return AssetCheck(asset, expectation, severity, description, table, reads, kwargs)


def _columns_of(asset: Asset, table: str) -> set[str] | None:
    """The columns of one of a table asset's tables (None for marts: known only once built)."""
    if not isinstance(asset, TableAsset):
        return None
    for model in asset.models:
        sa_table = table_of(model)
        if f"{sa_table.schema}.{sa_table.name}" == table:
            return {c.name for c in sa_table.columns}
    return None
