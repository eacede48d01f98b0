"""The asset engine: declare assets and checks, list them in `Definitions`, materialise them.

Assets import what they need from here; everything else (CLI, DAG, tests) receives a
`Definitions` object (the project's is `etl.definitions.defs`).
"""

from etl.engine.checks import AssetCheck, Severity, asset_check
from etl.engine.context import AssetResult, RunContext
from etl.engine.definitions import Definitions
from etl.engine.document import Doc
from etl.engine.graph import AssetGraph, SelectionError
from etl.engine.runner import AssetOutcome, RunSummary, materialize
from etl.engine.spec import (
    Asset,
    AssetDeclarationError,
    Incremental,
    IngestAsset,
    Rows,
    SqlAsset,
    TableAsset,
    ingest_asset,
    sql_asset,
    table_asset,
)

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
