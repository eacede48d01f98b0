"""The embedded MongoDB: a SecantusDB server, started on demand and shared like the embedded
PostgreSQL.

With `MONGO_URI` unset, the first process that needs MongoDB (CLI, generator, proxy, a DAG
task, `etl ui`, the demo, a test session) starts `python -m secantus` as a detached process
storing under `LOCAL_DIR/mongo/data`, on a free port of 127.0.0.1, and writes its pid and port
to `LOCAL_DIR/mongo/server.json`; every later process reads that file and connects to the same
server. `python -m etl down` stops it.

SecantusDB speaks MongoDB's wire protocol on WiredTiger, so the product reaches it exactly as
it reaches a `mongod`: through pymongo. It is GPL-2.0 and runs as a separate program; nothing
of it is imported here. It starts with `--sync-on-commit` (WiredTiger's log is flushed at each
commit): without it a `kill -9` of the server lost writes it had acknowledged (see the README,
"The embedded MongoDB and a real mongod").

It runs with authentication on (`--auth`, SCRAM-SHA-256), one login per component as in the
compose stack (deploy/mongo-init.js): `etl` reads, `generator` (the imitation of the outside
site) reads and writes, `aviasales_proxy` inserts into its request log, and `admin` (root) is
used by this module's set-up, the benchmark's scratch servers and the tests' fail points. The
first start creates them on a server started without authentication (how SecantusDB is
provisioned), then restarts it with `--auth`; every start sets their passwords from the
secrets folder (etl.services.local_secrets). Unlike deploy/mongo-init.js, the roles cover any
database, not the RAW one alone: MONGO_DB is a setting (the tests and the benchmark use
databases of their own), and the server's roles cannot follow it.

A stale `server.json` (its pid gone, or reused by another program, or a server that no longer
answers, or one started without authentication) is replaced by a fresh start; two processes
starting at once are serialised by a lock file, so exactly one server runs per `LOCAL_DIR`.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil

from etl.errors import ServiceUnavailable
from etl.services.local_secrets import local_password

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SERVER_FLAGS = ("--sync-on-commit", "--noop-heartbeat-seconds", "10", "--log-level", "WARNING")
"""Always on: acknowledged writes survive a kill -9 of the server (measured in the README); a
no-op written to the oplog every 10 s (as mongod does), so a change stream on a quiet
collection still gets an advancing resume token."""


Login = Literal["admin", "etl", "generator", "aviasales_proxy"]
PROXY_ROLE = "proxyRequestLog"
PROXY_PRIVILEGES = [
    {
        "resource": {"db": "", "collection": "aviasales_requests"},
        "actions": ["insert", "createIndex"],
    }
]
"""The proxy's only right: insert into (and index) its request log, in any database."""
LOGINS: dict[Login, list[dict[str, str]]] = {
    "admin": [{"role": "root", "db": "admin"}],
    "etl": [{"role": "readAnyDatabase", "db": "admin"}],
    "generator": [{"role": "readWriteAnyDatabase", "db": "admin"}],
    "aviasales_proxy": [{"role": PROXY_ROLE, "db": "admin"}],
}


@dataclass(frozen=True)
class ServerState:
    """What `server.json` records about the running server."""

    pid: int
    port: int
    secrets: Path
    """Where its logins' passwords are kept."""

    def uri(self, login: Login) -> str:
        """A URI that signs in as `login` (its password from the secrets folder)."""
        password = local_password(self.secrets, f"mongo-{login}")
        return (
            f"mongodb://{login}:{password}@{HOST}:{self.port}/"
            "?authSource=admin&directConnection=true"
        )


def state_file(root: Path) -> Path:
    return root / "server.json"


def read_state(root: Path) -> ServerState | None:
    """The record of a server started with authentication (an older record, without, is stale)."""
    try:
        data = json.loads(state_file(root).read_text())
        return ServerState(int(data["pid"]), int(data["port"]), Path(data["secrets"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_server(root: Path) -> ServerState | None:
    """The server recorded under `root` if its process is still that server and answers."""
    state = read_state(root)
    if state is None or not _is_server_process(state.pid, root):
        return None
    return state if _answers(state.port) else None


def ensure_server(root: Path, secrets: Path, extra_flags: tuple[str, ...] = ()) -> ServerState:
    """The running server under `root`, started first when none runs (or the one recorded is
    stale), its logins' passwords kept in `secrets`. `extra_flags`: more server options for a
    start (tests: `--enable-test-commands`)."""
    root.mkdir(parents=True, exist_ok=True)
    state = running_server(root)
    if state is not None:
        return state
    with _start_lock(root):
        state = running_server(root)  # another process may have started it meanwhile
        if state is not None:
            return state
        stop_server(root)  # a stale record, a hung process, or a server without authentication
        return _start(root, secrets.resolve(), extra_flags)


def stop_server(root: Path, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the server recorded under `root` (SIGTERM, then SIGKILL after `timeout`), a record
    of an older version (no secrets) included; returns whether one was running. The data
    stays."""
    try:
        pid: int | None = int(json.loads(state_file(root).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = None
    stopped = False
    if pid is not None and _is_server_process(pid, root):
        stopped = _terminate(pid, timeout)
    state_file(root).unlink(missing_ok=True)
    return stopped


def kill_server(root: Path) -> bool:
    """SIGKILL the server (tests of a lost server, and of durability); returns whether one ran."""
    state = read_state(root)
    if state is None or not _is_server_process(state.pid, root):
        return False
    os.kill(state.pid, signal.SIGKILL)
    _wait_gone(state.pid, STOP_TIMEOUT_S)
    return True


def data_dir(root: Path) -> Path:
    return root / "data"


def log_file(root: Path) -> Path:
    return root / "server.log"


# -- internals -------------------------------------------------------------------------------


def _start(root: Path, secrets: Path, extra_flags: tuple[str, ...]) -> ServerState:
    """Start the server with authentication, its logins created first on a new data folder."""
    marker = root / "logins-created"
    if not (marker.exists() and data_dir(root).exists()):
        pid, port = _launch(root, extra_flags)
        try:
            _keep_logins(f"mongodb://{HOST}:{port}/?directConnection=true", secrets)
        finally:
            _terminate(pid, STOP_TIMEOUT_S)
        marker.touch()
    pid, port = _launch(root, ("--auth", *extra_flags))
    state = ServerState(pid, port, secrets)
    try:
        _keep_logins(state.uri("admin"), secrets)  # passwords as the secrets folder has them
    except Exception:
        _terminate(pid, STOP_TIMEOUT_S)
        raise
    _write_state(root, state)
    return state


def _keep_logins(uri: str, secrets: Path) -> None:
    """Create each login (and the proxy's role) or set its password and roles again."""
    import pymongo
    from pymongo.errors import PyMongoError

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=5000
    )
    try:
        admin = client.admin
        roles = {r["role"] for r in admin.command("rolesInfo", 1)["roles"]}
        verb = "updateRole" if PROXY_ROLE in roles else "createRole"
        admin.command(verb, PROXY_ROLE, privileges=PROXY_PRIVILEGES, roles=[])
        users = {u["user"] for u in admin.command("usersInfo", 1)["users"]}
        for login, granted in LOGINS.items():
            password = local_password(secrets, f"mongo-{login}")
            verb = "updateUser" if login in users else "createUser"
            admin.command(verb, login, pwd=password, roles=granted)
    except PyMongoError as exc:
        raise ServiceUnavailable(
            f"could not set up the embedded MongoDB server's logins: {exc} (its admin password "
            f"is {secrets / 'mongo-admin.password'}; delete the server's folder to start anew)"
        ) from exc
    finally:
        client.close()


def _launch(root: Path, flags: tuple[str, ...]) -> tuple[int, int]:
    """Start `python -m secantus` on a free port; (pid, port) once it answers."""
    last_error = ""
    for _attempt in range(3):  # a free port can be taken between choosing and binding it
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            HOST,
            "--port",
            str(port),
            "--storage-path",
            str(data_dir(root)),
            *SERVER_FLAGS,
            *flags,
        ]
        with log_file(root).open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the process that started it, like a daemon
                close_fds=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(port):
                return process.pid, port
            time.sleep(0.05)
        if process.poll() is None:
            _terminate(process.pid, 5)
        last_error = _log_tail(root)
    raise ServiceUnavailable(
        f"could not start the embedded MongoDB server in {root}: {last_error or 'no answer'} "
        f"(see {log_file(root)})"
    )


def _write_state(root: Path, state: ServerState) -> None:
    tmp = state_file(root).with_suffix(".tmp")
    record = {"pid": state.pid, "port": state.port, "secrets": str(state.secrets)}
    tmp.write_text(json.dumps(record))
    tmp.replace(state_file(root))


@contextmanager
def _start_lock(root: Path) -> Iterator[None]:
    with (root / "server.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    """Whether something speaks MongoDB's protocol on the port (a `ping`, without pymongo's
    topology machinery: this runs before any client exists)."""
    import pymongo
    from pymongo.errors import OperationFailure, PyMongoError

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        HOST, port, directConnection=True, serverSelectionTimeoutMS=300, connectTimeoutMS=300
    )
    try:
        client.admin.command("ping")
        return True
    except OperationFailure:  # it answered, and refused: a server all the same
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _is_server_process(pid: int, root: Path) -> bool:
    """Whether `pid` is a SecantusDB server storing under `root` (a pid can be reused)."""
    try:
        command = psutil.Process(pid).cmdline()
    except (psutil.Error, OSError):
        return False
    return "secantus" in command and str(data_dir(root)) in command


def _terminate(pid: int, timeout: float) -> bool:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if not _wait_gone(pid, timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        _wait_gone(pid, timeout)
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited (a zombie counts: its parent, not us, reaps it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _log_tail(root: Path) -> str:
    try:
        lines = log_file(root).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""
