"""Who may do what in the warehouse: the owner, the loader and the analysts.

- **owner** (`POSTGRES_OWNER_URL`; embedded `etl_owner`): owns the product's schemas and the
  tables the migrations create; `python -m etl migrate` runs as it and then grants the rest.
- **loader** (`POSTGRES_URL`, the ETL's login; embedded `etl_loader`): reads and writes rows
  of `shop`, `aviasales` and `etl` (no DDL, no TRUNCATE, no DROP there), and creates the marts
  in `dwh`, which it owns (a rebuild creates a table and swaps it in). No superuser, no
  CREATEROLE, no CREATEDB, no other database.
- **analyst** (`ANALYST_ROLE`): SELECT on `shop`, `aviasales` and `dwh`, marts swapped in later
  included (default privileges of the loader, who creates them); nothing of `etl.*`, whose
  rejects keep raw documents (names, e-mails, free text).

The roles themselves, with their passwords, are created by the server's administrator: the
compose stack's deploy/postgres-init.sh, or the embedded server's own set-up
(etl.services.postgres). Granting is idempotent; tables created later need no new grant.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

OWNER = "etl_owner"
LOADER = "etl_loader"
"""The embedded server's logins (compose creates the same names)."""
WRITTEN = ("shop", "aviasales", "etl")
"""Schemas whose tables the migrations create and the loader fills."""
MARTS = "dwh"
"""The loader builds the marts here, as tables of its own."""
READABLE = ("shop", "aviasales", MARTS)
"""Schemas the analysts read; `etl` (rejects, run records) is not among them."""
PRIVATE = ("etl",)
ROW_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"


def role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None


def grant_to_loader(owner: psycopg.Connection, loader: str) -> None:
    """As the owner: the loader's rights on the owner's schemas, tables made later included."""
    role = sql.Identifier(loader)
    _grant_connect(owner, role)
    for schema in WRITTEN:
        name = sql.Identifier(schema)
        for statement in (
            "GRANT USAGE ON SCHEMA {s} TO {r}",
            f"GRANT {ROW_RIGHTS} ON ALL TABLES IN SCHEMA {{s}} TO {{r}}",
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {{s}} GRANT {ROW_RIGHTS} ON TABLES TO {{r}}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES "
            "TO {r}",
        ):
            owner.execute(sql.SQL(statement).format(s=name, r=role))
    owner.execute(
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(sql.Identifier(MARTS), role)
    )
    # every command checks the schema revision first
    owner.execute(sql.SQL("GRANT SELECT ON public.alembic_version TO {}").format(role))


def grant_to_analyst(owner: psycopg.Connection, analyst: str) -> None:
    """As the owner: the analysts read the normalised schemas and the marts, not `etl`."""
    role = sql.Identifier(analyst)
    _grant_connect(owner, role)
    for schema in READABLE:
        name = sql.Identifier(schema)
        owner.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, role))
        _grant_select_on_own_tables(owner, schema, role)  # the marts are the loader's to grant
        owner.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
                name, role
            )
        )
    for schema in PRIVATE:
        name = sql.Identifier(schema)
        owner.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(name, role))
        owner.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(name, role))


def share_marts(loader: psycopg.Connection, analyst: str) -> None:
    """As the loader: the analysts read its marts, those of every later rebuild too.

    Default privileges belong to the role creating the tables, and only it (or a superuser)
    may set them: hence a step run on the loader's own connection.
    """
    role = sql.Identifier(analyst)
    marts = sql.Identifier(MARTS)
    loader.execute(
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
            marts, role
        )
    )
    _grant_select_on_own_tables(loader, MARTS, role)


def _grant_select_on_own_tables(
    conn: psycopg.Connection, schema: str, role: sql.Identifier
) -> None:
    """One GRANT for every table of `schema` this login owns (ALL TABLES would also name the
    ones it may not grant on)."""
    owned = conn.execute(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname = %s AND tableowner = current_user",
        [schema],
    ).fetchall()
    if owned:
        tables = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in owned)
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(tables, role))


def _grant_connect(conn: psycopg.Connection, role: sql.Identifier) -> None:
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    conn.execute(
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(database[0]), role
        )
    )
