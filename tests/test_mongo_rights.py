"""The MongoDB logins, tried on the real server with authentication on: the embedded server
the whole session runs on (`--auth`), each login attempting what it must not do.

Two sets of logins: the product's own on the embedded server (etl.services.mongo_server: roles
on any database, as MONGO_DB varies) and the compose stack's (deploy/mongo-init.js: roles on
the RAW database alone), created here by the embedded admin under names of their own.

Where the embedded server enforces less than mongod (README, "Security"): it checks the actions
of a custom role but not its collection — the proxy's role (`insert` on `aviasales_requests`)
also lets it insert elsewhere — so that one right is asserted on the role's definition only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo.errors import OperationFailure

from etl.services import mongo_server

ROOT = Path(__file__).resolve().parents[1]
RAW = "raw_rights"
PASSWORD = "Rights-Test-Pa55"
COMPOSE_USERS = {
    "etl": [{"role": "read", "db": RAW}],
    "aviasales_proxy": [{"role": "proxyRequestLog_compose", "db": "admin"}],
    "generator": [{"role": "readWrite", "db": RAW}],
}
"""As deploy/mongo-init.js creates them (checked against the file below), named `compose_*`."""
Login = Callable[[str], Any]


@pytest.fixture(scope="module")
def server(mongo_admin: Any) -> mongo_server.ServerState:
    """The session's server, the compose logins added and a document to read."""
    from etl.settings import get_settings

    state = mongo_server.read_state(get_settings().embedded_mongo_dir.resolve())
    assert state is not None
    admin = mongo_admin.admin
    if "compose_etl" not in {u["user"] for u in admin.command("usersInfo", 1)["users"]}:
        admin.command(
            "createRole", "proxyRequestLog_compose", roles=[],
            privileges=[{"resource": {"db": RAW, "collection": "aviasales_requests"},
                         "actions": ["insert", "createIndex"]}],
        )  # fmt: skip
        for user, roles in COMPOSE_USERS.items():
            admin.command("createUser", f"compose_{user}", pwd=PASSWORD, roles=roles)
    mongo_admin[RAW].events.replace_one({"_id": 1}, {"_id": 1, "kind": "seed"}, upsert=True)
    return state


@pytest.fixture(params=["embedded", "compose"])
def login(request: pytest.FixtureRequest, server: mongo_server.ServerState) -> Login:
    """A client signed in as one component: the embedded server's login, or the compose one."""

    def connect(user: str) -> Any:
        if request.param == "embedded":
            uri = server.uri(user)  # type: ignore[arg-type]
        else:
            uri = (
                f"mongodb://compose_{user}:{PASSWORD}@127.0.0.1:{server.port}/"
                "?authSource=admin&directConnection=true"
            )
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=5000
        )
        request.addfinalizer(client.close)
        return client

    return connect


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


def test_without_a_login_nothing_is_readable(server: mongo_server.ServerState) -> None:
    anonymous: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        f"mongodb://127.0.0.1:{server.port}/?directConnection=true"
    )
    with anonymous:
        assert denied(lambda: anonymous[RAW].events.find_one())
        assert denied(lambda: anonymous[RAW].events.insert_one({"x": 1}))


def test_a_wrong_password_is_refused(server: mongo_server.ServerState) -> None:
    uri = server.uri("etl").replace("etl:", "etl:x", 1)
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    with client, pytest.raises(OperationFailure) as refused:
        client.admin.command("ping")
    assert refused.value.code == 18  # AuthenticationFailed


def test_the_etl_reads_and_cannot_write_drop_or_create_users(login: Login) -> None:
    etl = login("etl")
    raw = etl[RAW]
    assert raw.events.find_one({"_id": 1}) == {"_id": 1, "kind": "seed"}
    assert denied(lambda: raw.events.insert_one({"_id": 2}))
    assert denied(lambda: raw.events.update_one({"_id": 1}, {"$set": {"kind": "x"}}))
    assert denied(lambda: raw.events.delete_one({"_id": 1}))
    assert denied(lambda: raw.drop_collection("events"))
    assert denied(lambda: raw.events.create_index("kind"))
    assert denied(lambda: etl.admin.command("createUser", "evil", pwd="x", roles=["root"]))
    assert raw.events.count_documents({}) == 1


def test_the_proxy_inserts_its_log_and_reads_nothing(login: Login) -> None:
    proxy = login("aviasales_proxy")[RAW]
    proxy.aviasales_requests.insert_one({"path": "/prices", "status_code": 200})
    proxy.aviasales_requests.create_index([("updated_at", 1), ("_id", 1)])
    assert denied(lambda: proxy.events.find_one())
    assert denied(lambda: proxy.aviasales_requests.delete_many({}))
    assert denied(lambda: proxy.drop_collection("aviasales_requests"))


def test_the_generator_reads_and_writes_but_administers_nothing(login: Login) -> None:
    generator = login("generator")
    raw = generator[RAW]
    raw.events.insert_one({"_id": 3})
    raw.events.delete_one({"_id": 3})
    assert denied(lambda: generator.admin.command("createUser", "evil", pwd="x", roles=["root"]))
    assert denied(lambda: generator.drop_database(RAW))
    fail_point = {"configureFailPoint": "failCommand", "mode": "off"}
    assert denied(lambda: generator.admin.command(fail_point))


def test_known_difference_a_custom_roles_collection_is_not_enforced_by_the_embedded_server(
    login: Login,
) -> None:
    """mongod refuses the proxy's insert into another collection (the role names one); the
    embedded server lets it through (README, "Security"). Should it start refusing, this test
    fails and the README's difference goes."""
    proxy = login("aviasales_proxy")[RAW]
    assert not denied(lambda: proxy.not_its_log.insert_one({"x": 1}))


def test_no_login_reads_credentials(login: Login) -> None:
    for user in ("etl", "generator", "aviasales_proxy"):
        users = login(user)["admin"].system.users
        assert denied(users.find_one) or "credentials" not in (users.find_one() or {})
        assert denied(lambda users=users: users.database.command("usersInfo", 1))


def test_known_difference_any_database_readers_see_user_names(
    server: mongo_server.ServerState,
) -> None:
    """mongod's read roles leave out `system.users`; the embedded server shows a reader of any
    database (the embedded logins) the user documents, without their credentials (README,
    "Security"). Should it start refusing, this test fails and the README's difference goes."""
    with pymongo.MongoClient(server.uri("etl")) as client:
        seen = client.admin.system.users.find_one({"user": "admin"})
    assert seen is not None and seen["roles"] and "credentials" not in seen
