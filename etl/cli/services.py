"""Commands about the services themselves: migrate, down, ui."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Console

from etl.errors import UserFacingError, mask_url
from etl.migrations import upgrade
from etl.services.mongo_server import stop_server
from etl.services.postgres import postgres_url, stop_embedded
from etl.settings import get_settings

console = Console()


def migrate() -> None:
    """Apply the Alembic migrations (`alembic upgrade head`) to the configured warehouse."""
    url = postgres_url()
    upgrade(url)
    console.print(f"warehouse at {mask_url(url)} is at the latest schema revision")


def down() -> None:
    """Stop the embedded PostgreSQL and MongoDB servers (data stays under LOCAL_DIR/pg and
    LOCAL_DIR/mongo). A server configured by POSTGRES_URL / MONGO_URI is left alone."""
    settings = get_settings()
    if settings.postgres_url:
        console.print("POSTGRES_URL is set: no embedded PostgreSQL to stop")
    else:
        stopped = stop_embedded(settings)
        console.print(
            "embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running"
        )
    if settings.mongo_uri:
        console.print("MONGO_URI is set: no embedded MongoDB to stop")
    else:
        stopped = stop_server(settings.embedded_mongo_dir.resolve())
        console.print("embedded MongoDB stopped" if stopped else "embedded MongoDB was not running")


def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    host: Annotated[str, typer.Option(help="Interface (keep 127.0.0.1: no login).")] = (
        "127.0.0.1"
    ),
) -> None:
    """Start the Airflow UI on the demo's metadata (LOCAL_DIR/airflow): the DAG, its runs,
    each task's log, the Assets graph (collections -> tables -> marts) and its events.

    Runs `airflow api-server` in the foreground with the project's settings: example DAGs off,
    the virtualenv's `airflow` on PATH, and no login (every visitor is an admin: it listens on
    127.0.0.1 only). Run `make demo` first for something to see. Ctrl-C stops it.
    """
    from dags.local import ui_env

    env = ui_env()
    reserialized = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "reserialize"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if reserialized.returncode != 0:
        tail = (reserialized.stderr or reserialized.stdout).strip().splitlines()[-1:]
        raise UserFacingError(f"airflow could not load the DAG: {' '.join(tail)}")
    console.print(
        f"Airflow UI: [bold]http://{host}:{port}[/]  (no login needed: local use only). "
        "The demo's run is under DAGs > mongo_assets; Ctrl-C stops the server."
    )
    server = [sys.executable, "-m", "airflow", "api-server", "--host", host, "--port", str(port)]
    sys.stdout.flush()
    os.execve(sys.executable, server, env)  # the server replaces this process: signals reach it


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(down)
    app.command()(ui)
