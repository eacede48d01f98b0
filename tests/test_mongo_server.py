"""The embedded MongoDB: a SecantusDB server in its own process, reached over the wire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pymongo
import pytest

from etl.services import mongo_server
from etl.services.mongo import mongo_client, mongo_database


def test_the_embedded_server_is_a_separate_wire_protocol_process(mongo: Any) -> None:
    from etl.settings import get_settings

    root = get_settings().embedded_mongo_dir.resolve()
    state = mongo_server.read_state(root)
    assert state is not None and state.pid != os.getpid()
    assert "secantus" in psutil.Process(state.pid).cmdline()
    hello = mongo.client.admin.command("hello")
    assert hello["isWritablePrimary"] and hello["maxWireVersion"] >= 17
    assert (root / "data" / "WiredTiger").exists()  # stored under LOCAL_DIR/mongo
    mongo.things.create_index("a")
    mongo.things.insert_many([{"a": i} for i in range(50)])
    plan = mongo.things.find({"a": 7}).explain()
    assert "IXSCAN" in json.dumps(plan, default=str)  # a real index, a real planner


def test_one_client_per_process(mongo: Any) -> None:
    assert mongo_client() is mongo_client()
    assert mongo_database().client is mongo_client()


@pytest.fixture
def scratch_root(tmp_path: Path) -> Iterator[Path]:
    """A second server's folder (the session's server is left alone); stopped afterwards."""
    root = tmp_path / "mongo"
    yield root
    mongo_server.stop_server(root)


def test_a_stale_record_is_replaced_and_acknowledged_writes_survive_kill_9(
    scratch_root: Path,
) -> None:
    scratch_root.mkdir()
    # a pid that is alive but is not a SecantusDB server (this test), and a port nobody serves
    (scratch_root / "server.json").write_text(json.dumps({"pid": os.getpid(), "port": 1}))
    secrets = scratch_root.parent / "secrets"
    state = mongo_server.ensure_server(scratch_root, secrets)
    assert state.pid != os.getpid() and state.port != 1
    assert mongo_server.ensure_server(scratch_root, secrets) == state  # reused, not restarted
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(state.uri("generator"))
    try:
        client.raw.docs.insert_many([{"_id": i, "v": "x" * 100} for i in range(300)])
        client.raw.docs.insert_one({"_id": "last"})  # acknowledged, then the server dies
    finally:
        client.close()
    assert mongo_server.kill_server(scratch_root)
    again = mongo_server.ensure_server(scratch_root, secrets)  # a stale record: a new server
    assert again.pid != state.pid
    client = pymongo.MongoClient(again.uri("etl"))
    try:
        assert client.raw.docs.count_documents({}) == 301  # --sync-on-commit: nothing lost
    finally:
        client.close()
    assert mongo_server.stop_server(scratch_root)
    assert not psutil.pid_exists(again.pid) or psutil.Process(again.pid).status() == "zombie"
    assert mongo_server.read_state(scratch_root) is None
    assert not mongo_server.stop_server(scratch_root)  # stopping twice is fine


def test_down_stops_both_embedded_servers(tmp_path: Path) -> None:
    env = {**os.environ, "LOCAL_DIR": str(tmp_path)}
    env.pop("MONGO_URI", None)
    root = tmp_path / "mongo"
    state = mongo_server.ensure_server(root, tmp_path / "secrets")
    done = subprocess.run(
        [sys.executable, "-m", "etl", "down"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "embedded MongoDB stopped" in done.stdout
    assert mongo_server.read_state(root) is None
    assert not psutil.pid_exists(state.pid) or psutil.Process(state.pid).status() == "zombie"
