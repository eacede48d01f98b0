"""SQLModel table classes: the normalised PostgreSQL schema that Alembic migrates.

Importing this package registers every table on `SQLModel.metadata` (what Alembic compares).
"""

from sqlmodel import SQLModel

from models import aviasales, etl, shop

metadata = SQLModel.metadata


def model_for(table: str) -> type[SQLModel]:
    """The SQLModel class mapped to a qualified table name like "shop.products"."""
    for mapper in SQLModel._sa_registry.mappers:
        if getattr(mapper.local_table, "fullname", None) == table:
            return mapper.class_
    raise KeyError(table)


SCHEMAS = ("etl", "shop", "aviasales")

__all__ = ["SCHEMAS", "aviasales", "etl", "metadata", "model_for", "shop"]
