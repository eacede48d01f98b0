"""A known password in POSTGRES_URL never shows: not in what the commands print (materialize,
status --json, rejects, check, docs, report, migrate), not in a log record, not in the built
data docs or report, not in the one-line error of an unreachable server. (Airflow's task logs:
tests/test_dag.py looks for every login's password in them.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shop_docs
from psycopg import sql
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from etl.cli import app
from etl.settings import get_settings

KNOWN = "Kn0wn-Secret-Pa55"


@pytest.fixture
def with_password(
    migrated: str,
    owner_url: str,
    superuser_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Path]:
    """POSTGRES_URL = the loader with a known password, set on the server for real (it requires
    passwords), so the password travels everywhere the URL does; the report goes to tmp."""
    generated = make_url(migrated).password
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER ROLE etl_loader PASSWORD {}").format(KNOWN))
    url = make_url(migrated).set(password=KNOWN).render_as_string(hide_password=False)
    monkeypatch.setenv("POSTGRES_URL", url)
    monkeypatch.setenv("POSTGRES_OWNER_URL", owner_url)
    monkeypatch.setenv("ETL_REPORT_DIR", str(tmp_path / "report"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER ROLE etl_loader PASSWORD {}").format(generated))


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_a_known_password_never_shows(
    db: Any, mongo: Any, with_password: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mongo.moderation_queue.insert_many(
        [shop_docs.moderation_item(1), shop_docs.moderation_item(2, rating=9)]
    )
    runner = CliRunner()
    said = []
    with caplog.at_level(logging.DEBUG):
        for args in (
            ["materialize", "moderation_queue+"],
            ["status", "--json"],
            ["status"],
            ["rejects"],
            ["check", "moderation_queue"],
            ["docs"],
            ["report"],
            ["migrate"],
        ):
            result = runner.invoke(app, args)
            said.append(result.output)
            assert result.exit_code in (0, 1), (args, result.output)
    assert said and all(KNOWN not in output for output in said)
    assert all(KNOWN not in record.getMessage() for record in caplog.records)
    settings = get_settings()
    built = files_under(settings.gx_dir / "uncommitted", with_password / "report")
    assert any(p.suffix == ".html" for p in built)  # the docs and the report were built
    for path in built:
        assert KNOWN.encode() not in path.read_bytes(), path


def test_an_unreachable_server_is_named_with_its_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTGRES_URL", f"postgresql://etl:{KNOWN}@127.0.0.1:1/warehouse")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert KNOWN not in result.output and "etl:***@127.0.0.1:1" in result.output
