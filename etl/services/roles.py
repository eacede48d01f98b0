"""The analysts' read-only PostgreSQL login: the normalised schemas and the marts, never `etl.*`.

`etl.rejects` keeps each rejected raw document (names, e-mails, free text); the run records,
watermarks and stream positions are the engine's. An analyst needs neither, so the role gets
USAGE and SELECT on `shop`, `aviasales` and `dwh` only, and no right to write anywhere. Marts
are rebuilt as new tables and swapped in: the default privileges of the role that builds them
(the one running this, as the ETL does) grant SELECT on every table created later, so a swapped
mart stays readable without a grant in the build.

Idempotent (`python -m etl roles`, run by `make demo` and the compose init job): the role is
created when missing and its password and grants are set again each time.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
from psycopg import sql

from etl.settings import Settings

READABLE = ("shop", "aviasales", "dwh")
"""Schemas the analysts read; `etl` (rejects, run records) is not among them."""
PRIVATE = ("etl",)


def analyst_password(settings: Settings) -> str:
    """ANALYST_PASSWORD, or (embedded defaults) one generated once into a file only this user
    can read."""
    if settings.analyst_password is not None:
        return settings.analyst_password.get_secret_value()
    path = password_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def password_file(settings: Settings) -> Path:
    return settings.embedded_pg_dir.resolve().parent / "pg-analyst.password"


def ensure_analyst(conn: psycopg.Connection, role: str, password: str) -> None:
    """Create or update the read-only login `role` (see the module docstring)."""
    ident = sql.Identifier(role)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    conn.execute(
        sql.SQL(
            "ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {}"
        ).format(ident, sql.Literal(password))
    )
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database[0]), ident)
    )
    for schema in READABLE:
        name = sql.Identifier(schema)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(name, ident))
        conn.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
                name, ident
            )
        )
    for schema in PRIVATE:
        name = sql.Identifier(schema)
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(name, ident))
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(name, ident))
