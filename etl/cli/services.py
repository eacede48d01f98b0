"""Commands about the services themselves: migrate, down, ui."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Annotated

import typer
from rich.console import Console

from etl.errors import UserFacingError, mask_url
from etl.settings import get_settings

console = Console()


def migrate() -> None:
    """Bring the warehouse to the latest schema (`alembic upgrade head`) and keep the logins'
    rights on it. Safe to run again.

    Runs as the owner (POSTGRES_OWNER_URL; embedded: `etl_owner`), then grants: the ETL's
    login (POSTGRES_URL, the loader) reads and writes rows of shop, aviasales and etl and
    builds the marts in dwh; the analysts' login (ANALYST_ROLE) reads shop, aviasales and dwh,
    marts rebuilt later included, and nothing of etl (rejects keep raw documents). Roles and
    passwords are the server administrator's (README, "Security").
    """
    from etl.migrations import migrate_warehouse

    done = migrate_warehouse()
    console.print(
        f"warehouse at {mask_url(done.url)} is at the latest schema revision", highlight=False
    )
    if done.loader:
        console.print(f"loader {done.loader!r}: rows of shop, aviasales, etl; marts in dwh")
    if done.analyst:
        console.print(f"analysts {done.analyst!r}: read shop, aviasales, dwh (not etl)")
    else:
        console.print(
            f"[yellow]no role {get_settings().analyst_role!r} on this server: the analysts get "
            "no rights until it exists (create it as the server's admin, then migrate again)"
        )


def down() -> None:
    """Stop the embedded PostgreSQL and MongoDB servers (data stays under LOCAL_DIR/pg and
    LOCAL_DIR/mongo). A server configured by POSTGRES_URL / MONGO_URI is left alone."""
    from etl.services.mongo_server import stop_server
    from etl.services.postgres import stop_embedded

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

    Runs `airflow api-server` with the project's settings: example DAGs off, the virtualenv's
    `airflow` on PATH, and no login (every visitor is an admin: it listens on 127.0.0.1 only).
    Run `make demo` first for something to see. Ctrl-C or SIGTERM stops it and every process
    it started (the server runs in a process group of its own, which is ended as a whole).
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
    command = [sys.executable, "-m", "airflow", "api-server", "--host", host, "--port", str(port)]
    sys.stdout.flush()
    server = subprocess.Popen(command, env=env, start_new_session=True)
    code, stopped = run_until_signalled(server)
    if code != 0 and not stopped:
        raise typer.Exit(code)


def run_until_signalled(process: subprocess.Popen[bytes], grace: float = 20.0) -> tuple[int, bool]:
    """Wait for `process` (the leader of its own process group); Ctrl-C or SIGTERM ends the
    whole group, whose members (the API server forks workers that would otherwise keep the
    port) get SIGKILL after `grace` seconds. Returns (exit code, whether a signal stopped it)."""
    stopped = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopped.set()
        _signal_group(process.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        end_group(process.pid, grace)
    return code, stopped.is_set()


def end_group(group: int, grace: float) -> None:
    """SIGTERM whatever is left of process group `group`, SIGKILL after `grace` seconds."""
    if not _signal_group(group, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _signal_group(group, 0):
            return
        time.sleep(0.1)
    _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: int) -> bool:
    """Send `sig` to the group; False when no process of it is left."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left, or not ours
        return False
    return True


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(down)
    app.command()(ui)
