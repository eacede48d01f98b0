"""Alembic environment: the models' metadata, the URL from settings, only our schemas."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import models
from etl.services.postgres import owner_url, sa_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = models.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Compare only the schemas the models own; leave public (and Airflow, GX, dwh) alone."""
    if type_ == "schema":
        return name in models.SCHEMAS
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or owner_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_schemas=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # a caller (tests, `python -m etl migrate`) passed one in
        _run(connection)
        return
    engine = sa_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
