"""The analysts' read-only login (`python -m etl roles`): every normalised table and every mart,
marts rebuilt later included; never `etl.*` (rejects keep raw documents); no write, no DDL, no
role. Each refusal is tried for real on the session's PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import shop_docs
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from etl.definitions import defs
from etl.services.roles import ensure_analyst

ROLE, PASSWORD = "analyst_test", "known-Pa55word-for-the-test"


@pytest.fixture
def analyst(db: psycopg.Connection, migrated: str) -> Iterator[psycopg.Connection]:
    ensure_analyst(db, ROLE, PASSWORD)
    ensure_analyst(db, ROLE, PASSWORD)  # idempotent
    url = make_url(migrated).set(username=ROLE, password=PASSWORD)
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    yield conn
    conn.close()


def tables(db: psycopg.Connection, *schemas: str) -> list[str]:
    rows = db.execute(
        "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables"
        " WHERE schemaname = ANY(%s) ORDER BY 1",
        [list(schemas)],
    ).fetchall()
    return [t for (t,) in rows]


def refused(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_analyst_reads_tables_and_marts_even_after_a_rebuild_and_nothing_else(
    db: psycopg.Connection, mongo: Any, analyst: psycopg.Connection
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 4)])
    mongo.moderation_queue.insert_many([shop_docs.moderation_item(1, rating=9)])  # a reject
    assert defs.materialize("group:shop").ok
    assert defs.materialize("group:dwh", full_refresh=True).ok  # marts swapped in anew
    marts, normalised = tables(db, "dwh"), tables(db, "shop", "aviasales")
    assert marts and normalised
    for table in [*marts, *normalised]:
        analyst.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert analyst.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (3,)
    for table in tables(db, "etl"):  # rejects (raw documents), run records, positions
        assert refused(analyst, f"SELECT count(*) FROM {table}"), table
    assert db.execute("SELECT count(*) FROM etl.rejects").fetchone() == (1,)
    for statement in (
        "INSERT INTO shop.event_logs (source_id) VALUES ('x')",
        "UPDATE shop.event_logs SET event_type = 'x'",
        "DELETE FROM shop.event_logs",
        f"TRUNCATE {marts[0]}",
        f"DROP TABLE {marts[0]}",
        "CREATE TABLE dwh.mine (x int)",
        "CREATE TABLE shop.mine (x int)",
        "CREATE TABLE public.mine (x int)",
        "CREATE ROLE escalated",
        "CREATE SCHEMA mine",
    ):
        assert refused(analyst, statement), statement
    # a mart rebuilt after the grants were given is readable too (default privileges)
    assert defs.materialize("user_activity_daily", full_refresh=True).ok
    analyst.execute("SELECT count(*) FROM dwh.user_activity_daily").fetchone()


def test_the_roles_command_never_prints_the_password(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.cli import app
    from etl.settings import get_settings

    monkeypatch.setenv("ANALYST_ROLE", ROLE)
    monkeypatch.setenv("ANALYST_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["roles"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and f"{ROLE}:***@" in result.output
