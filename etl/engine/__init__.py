"""The asset engine: declare assets and checks, list them in `Definitions`, materialise them.

Assets import what they need from here; everything else (CLI, DAG, tests) receives a
`Definitions` object (the project's is `etl.definitions.defs`).
"""

from etl.engine.declare.assets import (
    Asset,
    Incremental,
    IngestAsset,
    Rows,
    SqlAsset,
    TableAsset,
    ingest_asset,
    sql_asset,
    table_asset,
)
from etl.engine.declare.checks import AssetCheck, Severity, asset_check
from etl.engine.declare.context import RunContext
from etl.engine.declare.graph import AssetGraph, SelectionError
from etl.engine.definitions import Definitions
from etl.engine.rows.document import Doc
from etl.engine.run.runner import AssetOutcome, RunSummary, materialize
from etl.engine.values.errors import AssetDeclarationError
from etl.engine.values.results import AssetResult

__all__ = [
    "Asset",
    "AssetCheck",
    "AssetDeclarationError",
    "AssetGraph",
    "AssetOutcome",
    "AssetResult",
    "Definitions",
    "Doc",
    "Incremental",
    "IngestAsset",
    "Rows",
    "RunContext",
    "RunSummary",
    "SelectionError",
    "Severity",
    "SqlAsset",
    "TableAsset",
    "asset_check",
    "ingest_asset",
    "materialize",
    "sql_asset",
    "table_asset",
]
