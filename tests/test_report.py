"""`python -m etl report`: the HTML page and its PNG charts, from marts built by the pipeline."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl.cli import app
from etl.definitions import defs
from etl.settings import Settings, get_settings
from generator.shop import write_once
from ingest.aviasales.collector import backfill

runner = CliRunner()

CHARTS = (
    "price_dynamics",
    "booking_window",
    "route_prices",
    "user_activity",
    "support_sla",
    "moderation_backlog",
)
TITLES = (
    "Price dynamics per route",
    "Booking window: how far ahead to buy",
    "Average price per route",
    "User activity over time",
    "Support SLA by issue type",
    "Moderation backlog",
    "Top 10 price movers",
    "Top 10 search terms",
    "Weekday price index",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EMBEDDED = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')

SMALL_AVIASALES = {
    "AVIASALES_ROUTES": "MOW<>DXB",
    "AVIASALES_WINDOW_DAYS": "60",
    "AVIASALES_DATE_STEP_DAYS": "3",
    "AVIASALES_SIM_RATE_LIMIT": "0",
}


@pytest.fixture
def small_aviasales(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Two routes, 20 departure days each: enough searches for every aviasales mart."""
    for name, value in SMALL_AVIASALES.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def report(*args: str) -> tuple[Any, str]:
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    return result, result.output


def test_report_with_data_embeds_every_chart_and_names_the_cheapest_window(
    db: Any, mongo: Any, small_aviasales: Settings, tmp_path: Path
) -> None:
    write_once(mongo, 60, seed=3)
    backfill(small_aviasales, mongo, days=5)
    summary = defs.materialize("*")
    assert summary.ok, [(o.name, o.error) for o in summary.outcomes if o.error]

    _, output = report("--out", str(tmp_path))
    index = tmp_path / "index.html"
    assert output.strip().splitlines()[-1] == str(index.resolve())
    page = index.read_text(encoding="utf-8")
    embedded = EMBEDDED.findall(page)
    assert len(embedded) == len(CHARTS)
    for name in CHARTS:
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png.startswith(PNG_SIGNATURE)
        assert len(png) > 5_000, name
        assert base64.b64encode(png).decode("ascii") in embedded, name
    for title in TITLES:
        assert f"<h2>{escape(title)}</h2>" in page
    assert "No data yet" not in page
    assert page.count("<table>") == 3

    (cheapest,) = db.execute(
        "SELECT bucket FROM dwh.booking_window WHERE price_index IS NOT NULL "
        "GROUP BY bucket, bucket_start ORDER BY avg(price_index), bucket_start LIMIT 1"
    ).fetchone()
    assert re.search(rf"buy {re.escape(cheapest)} days ahead: \d+ % (below|above) average", page)


def test_report_without_marts_says_no_data_yet_in_every_section(db: Any, tmp_path: Path) -> None:
    stale = tmp_path / "booking_window.png"
    stale.write_bytes(PNG_SIGNATURE)
    # the db fixture emptied the marts (if any exist): empty marts first, then no marts at all
    for prepare in ("SELECT 1", "DROP SCHEMA IF EXISTS dwh CASCADE"):
        db.execute(prepare)
        report("--out", str(tmp_path))
        page = (tmp_path / "index.html").read_text(encoding="utf-8")
        assert page.count("No data yet") == len(TITLES)
        assert "python -m etl materialize group:dwh" in page
        for title in TITLES:
            assert f"<h2>{escape(title)}</h2>" in page
        assert "data:image/png" not in page
        assert not list(tmp_path.glob("*.png"))  # the earlier build's chart is gone too


def test_report_goes_to_local_dir_report_by_default(db: Any) -> None:
    _, output = report()
    index = get_settings().local_dir / "report" / "index.html"
    assert index.is_file()
    assert output.strip().splitlines()[-1] == str(index.resolve())


def test_unreachable_database_is_one_line_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POSTGRES_URL", "postgresql://etl:hunter2@127.0.0.1:1/wh")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["report", "--out", str(tmp_path / "out")])
    finally:
        monkeypatch.delenv("POSTGRES_URL")
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "error: cannot reach PostgreSQL at postgresql://etl:***@127.0.0.1:1/wh" in result.output
    assert "hunter2" not in result.output
    assert not (tmp_path / "out").exists()
