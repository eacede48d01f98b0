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
    no_marts = (
        "SELECT format('DROP TABLE %I.%I', schemaname, tablename) FROM pg_tables"
        " WHERE schemaname = 'dwh'"
    )
    for prepare in ("SELECT 'SELECT 1'", no_marts):
        for (statement,) in db.execute(prepare).fetchall():
            db.execute(statement)
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


def window_rows(indexes: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """booking_window rows: route -> bucket -> price_index (bucket_start from the bucket)."""
    return [
        {"origin": route, "destination": "DXB", "currency": "rub", "bucket": bucket,
         "bucket_start": int(bucket.split("-")[0]), "price_index": index}
        for route, buckets in indexes.items()
        for bucket, index in buckets.items()
    ]  # fmt: skip


def test_a_window_all_routes_agree_on_is_sure() -> None:
    from etl.report.charts import window_summary
    from etl.report.data import cheapest_window

    routes = {r: {"31-45": 1.02, "46-60": 0.88, "61-90": 1.10} for r in ("MOW", "LED", "KZN")}
    window = cheapest_window(window_rows(routes))
    assert window is not None
    assert (window.bucket, window.routes, window.share) == ("46-60", 3, 1.0)
    assert window.index == pytest.approx(0.88)
    assert window_summary(window) == (
        "buy 46-60 days ahead: 12 % below average (cheapest in 100% of resamples of the 3 routes)"
    )


def test_routes_that_disagree_make_the_window_unsure_and_name_the_rival() -> None:
    from etl.report.charts import window_summary
    from etl.report.data import cheapest_window

    # two routes prefer 46-60, two prefer 31-45, by similar margins: the average picks one,
    # but resampling the routes picks the other about as often
    routes = {
        "MOW": {"31-45": 0.95, "46-60": 0.85},
        "LED": {"31-45": 0.96, "46-60": 0.86},
        "KZN": {"31-45": 0.86, "46-60": 0.96},
        "SVX": {"31-45": 0.85, "46-60": 0.95},
    }
    window = cheapest_window(window_rows(routes))
    assert window is not None and not window.sure
    assert window.runner_up in {"31-45", "46-60"} - {window.bucket}
    assert 0.2 < window.share < 0.8 and window.share + window.runner_up_share == 1.0
    assert "the data cannot tell it from" in window_summary(window)
    # the plain average decides the headline bucket, whatever the resamples say
    averages = {b: sum(r[b] for r in routes.values()) / 4 for b in ("31-45", "46-60")}
    assert window.bucket == min(averages, key=lambda b: (averages[b], b != "31-45"))
