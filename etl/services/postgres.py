"""PostgreSQL: the configured server, or the embedded one (etl.services.postgres_server).

Two logins matter to the product: the ETL's (`postgres_url`, the loader: rows and marts) and
the owner's (`owner_url`: migrations and grants). With `POSTGRES_URL` unset both are logins of
the embedded server, started on first use; a configured `POSTGRES_URL` without
`POSTGRES_OWNER_URL` is one login doing both (a server where you have a single account).
"""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

from etl.errors import ServiceUnavailable, mask_url
from etl.services.postgres_server import (
    EmbeddedServer,
    Login,
    embedded_server,
    stop_embedded_server,
)
from etl.settings import Settings, get_settings

CONNECT_TIMEOUT_S = 5


def postgres_url(settings: Settings | None = None) -> str:
    """The ETL's login (the loader); starts the embedded server when none is configured."""
    settings = settings or get_settings()
    if settings.postgres_url:
        return settings.postgres_url
    return embedded_url("loader", settings)


def owner_url(settings: Settings | None = None) -> str:
    """The login that owns the product's schemas: migrations and grants run as it."""
    settings = settings or get_settings()
    if settings.postgres_owner_url:
        return settings.postgres_owner_url
    if settings.postgres_url:
        return settings.postgres_url
    return embedded_url("owner", settings)


def scratch_admin_url(settings: Settings | None = None) -> str:
    """A login that may create databases, for the benchmark's scratch database (where it then
    acts as the only login): the embedded superuser, or the owner on a configured server."""
    settings = settings or get_settings()
    if settings.postgres_url:
        return owner_url(settings)
    return embedded_url("superuser", settings)


def embedded_url(login: Login, settings: Settings | None = None) -> str:
    """The URL of one of the embedded server's logins (the server started when needed)."""
    return _embedded(settings or get_settings()).url(login)


def _embedded(settings: Settings) -> EmbeddedServer:
    return embedded_server(settings.embedded_pg_dir, settings.secrets_dir, settings.analyst_role)


def stop_embedded(settings: Settings | None = None, timeout: float = 30.0) -> bool:
    """Stop the embedded server if it runs (the data stays); returns whether one was stopped."""
    settings = settings or get_settings()
    return stop_embedded_server(settings.embedded_pg_dir, timeout)


def pg_connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection; an unreachable server raises ServiceUnavailable with a masked URL."""
    url = url or postgres_url()
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ServiceUnavailable(f"cannot reach PostgreSQL at {mask_url(url)}: {reason}") from exc


def sqlalchemy_url(url: str) -> str:
    """The same URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ServiceUnavailable(f"not a PostgreSQL URL: {mask_url(url)}")


def sa_engine(url: str | None = None) -> sa.Engine:
    """A SQLAlchemy engine (for Alembic, SQLModel and Great Expectations), checked on creation."""
    url = url or postgres_url()
    engine = sa.create_engine(
        sqlalchemy_url(url), connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[-1] if exc.orig else str(exc)
        raise ServiceUnavailable(f"cannot reach PostgreSQL at {mask_url(url)}: {reason}") from exc
    return engine
