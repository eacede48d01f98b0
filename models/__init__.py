"""SQLModel table classes: the normalised PostgreSQL schema that Alembic migrates.

Importing this package registers every table on `SQLModel.metadata` (what Alembic compares).
"""

from sqlmodel import SQLModel

from models import etl, shop

metadata = SQLModel.metadata
SCHEMAS = ("etl", "shop")

__all__ = ["SCHEMAS", "etl", "metadata", "shop"]
