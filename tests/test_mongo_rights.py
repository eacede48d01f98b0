"""The MongoDB logins of the compose stack (deploy/mongo-init.js), tried on a real server with
authentication on: the embedded server started with `--auth` after the users were provisioned,
each login then attempting what it must not do.

Where the embedded server enforces less than mongod (README, "Security"): it checks the actions
of a custom role but not its collection — the proxy's role (`insert` on `aviasales_requests`)
also lets it insert elsewhere — so that one right is asserted on the role's definition only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo.errors import OperationFailure

from etl.services import mongo_server

ROOT = Path(__file__).resolve().parents[1]
RAW = "raw_rights"
PASSWORD = "Rights-Test-Pa55"
USERS = {
    "etl": [{"role": "read", "db": RAW}],
    "aviasales_proxy": [{"role": "proxyRequestLog", "db": "admin"}],
    "generator": [{"role": "readWrite", "db": RAW}],
}
"""As deploy/mongo-init.js creates them (checked against the file below)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scratch embedded server: users provisioned without auth, then restarted with it."""
    root = tmp_path_factory.mktemp("mongo-rights")
    state = mongo_server.ensure_server(root)
    with pymongo.MongoClient(state.uri()) as client:
        admin = client.admin
        admin.command(
            "createRole", "proxyRequestLog", roles=[],
            privileges=[{"resource": {"db": RAW, "collection": "aviasales_requests"},
                         "actions": ["insert", "createIndex"]}],
        )  # fmt: skip
        for user, roles in USERS.items():
            admin.command("createUser", user, pwd=PASSWORD, roles=roles)
        admin.command("createUser", "root", pwd=PASSWORD, roles=["root"])
        client[RAW].events.insert_one({"_id": 1, "kind": "seed"})
    mongo_server.stop_server(root)
    state = mongo_server.ensure_server(root, ("--auth",))
    yield f"127.0.0.1:{state.port}"
    mongo_server.stop_server(root)


def login(server: str, user: str) -> Any:
    uri = f"mongodb://{user}:{PASSWORD}@{server}/?authSource=admin&directConnection=true"
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)


def denied(action: Any) -> bool:
    try:
        action()
    except OperationFailure as exc:
        return exc.code == 13  # Unauthorized
    return False


def test_the_role_definitions_are_those_of_the_compose_init_script() -> None:
    script = (ROOT / "deploy/mongo-init.js").read_text()
    assert "user: process.env.MONGO_ETL_USER" in script and '{ role: "read", db: raw }' in script
    assert '{ role: "readWrite", db: raw }' in script
    assert 'role: "proxyRequestLog"' in script and '["insert", "createIndex"]' in script


def test_without_a_login_nothing_is_readable(server: str) -> None:
    anonymous = pymongo.MongoClient(f"mongodb://{server}/?directConnection=true")
    assert denied(lambda: anonymous[RAW].events.find_one())


def test_the_etl_reads_and_cannot_write_drop_or_create_users(server: str) -> None:
    etl = login(server, "etl")
    raw = etl[RAW]
    assert raw.events.find_one({"_id": 1}) == {"_id": 1, "kind": "seed"}
    assert denied(lambda: raw.events.insert_one({"_id": 2}))
    assert denied(lambda: raw.events.update_one({"_id": 1}, {"$set": {"kind": "x"}}))
    assert denied(lambda: raw.events.delete_one({"_id": 1}))
    assert denied(lambda: raw.drop_collection("events"))
    assert denied(lambda: raw.events.create_index("kind"))
    assert denied(lambda: etl.admin.command("createUser", "evil", pwd="x", roles=["root"]))
    assert raw.events.count_documents({}) == 1


def test_the_proxy_inserts_its_log_and_reads_nothing(server: str) -> None:
    proxy = login(server, "aviasales_proxy")[RAW]
    proxy.aviasales_requests.insert_one({"path": "/prices", "status_code": 200})
    proxy.aviasales_requests.create_index([("updated_at", 1), ("_id", 1)])
    assert denied(lambda: proxy.events.find_one())
    assert denied(lambda: proxy.aviasales_requests.delete_many({}))
    assert denied(lambda: proxy.drop_collection("aviasales_requests"))


def test_the_generator_reads_and_writes_but_administers_nothing(server: str) -> None:
    generator = login(server, "generator")
    raw = generator[RAW]
    raw.events.insert_one({"_id": 3})
    raw.events.delete_one({"_id": 3})
    assert denied(lambda: generator.admin.command("createUser", "evil", pwd="x", roles=["root"]))
    assert denied(lambda: generator["admin"].system.users.find_one())


def test_known_difference_a_custom_roles_collection_is_not_enforced_by_the_embedded_server(
    server: str,
) -> None:
    """mongod refuses the proxy's insert into another collection (the role names one); the
    embedded server lets it through (README, "Security"). Should it start refusing, this test
    fails and the README's difference goes."""
    proxy = login(server, "aviasales_proxy")[RAW]
    assert not denied(lambda: proxy.not_its_log.insert_one({"x": 1}))
