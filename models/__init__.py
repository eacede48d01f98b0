"""SQLModel table classes: the normalised PostgreSQL schema that Alembic migrates.

Importing this package registers every table on `SQLModel.metadata` (what Alembic compares).
"""

from sqlmodel import SQLModel

from models import aviasales, etl, shop

metadata = SQLModel.metadata
SCHEMAS = ("etl", "shop", "aviasales")

__all__ = ["SCHEMAS", "aviasales", "etl", "metadata", "shop"]
