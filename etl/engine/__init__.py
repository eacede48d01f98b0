"""The asset engine: declare assets, build the graph, materialise selections.

Assets import what they need from here; everything else (CLI, DAG, tests) uses the same names.
"""

from etl.engine.context import AssetResult, RunContext
from etl.engine.document import Doc
from etl.engine.graph import AssetGraph, SelectionError, load_graph
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
    "AssetDeclarationError",
    "AssetGraph",
    "AssetOutcome",
    "AssetResult",
    "Doc",
    "Incremental",
    "IngestAsset",
    "Rows",
    "RunContext",
    "RunSummary",
    "SelectionError",
    "SqlAsset",
    "TableAsset",
    "ingest_asset",
    "load_graph",
    "materialize",
    "sql_asset",
    "table_asset",
]
