"""Airflow Asset URIs of what the DAG reads and writes: collections, tables, check results."""

from __future__ import annotations


def collection_uri(collection: str) -> str:
    """The Airflow Asset URI of a MongoDB collection (the RAW layer, lineage's first column)."""
    return f"mongodb://raw/{collection}"


def quality_uri(table: str) -> str:
    """The Airflow Asset a check task reports on: one event per check, passed or warnings."""
    return f"quality://warehouse/{table.replace('.', '/')}"


def table_uri(table: str) -> str:
    """The Airflow Asset URI of a warehouse table (lineage in Airflow's asset view)."""
    return f"postgres://warehouse/{table.replace('.', '/')}"
