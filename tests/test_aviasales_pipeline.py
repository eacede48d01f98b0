"""Collector → MongoDB log → request_logs/tickets, on the embedded services, end to end."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from bson import ObjectId

from etl.definitions import defs
from etl.settings import Settings, get_settings
from ingest.aviasales.collector import (
    BackfillUnsupported,
    DayStats,
    backfill,
    plan,
    run_searches,
    today,
)
from ingest.aviasales.log import LOG_COLLECTION
from ingest.aviasales.proxy import Upstream, create_proxy

SMALL = {
    "AVIASALES_ROUTES": "MOW,KZN<>DXB",
    "AVIASALES_WINDOW_DAYS": "20",
    "AVIASALES_DATE_STEP_DAYS": "4",
    "AVIASALES_STAY_DAYS": "5",
    "AVIASALES_SIM_RATE_LIMIT": "0",
}


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings for a small collection: 4 routes, 5 departure days each."""
    for name, value in SMALL.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def successful_logs(mongo: Any) -> list[dict[str, Any]]:
    return list(mongo[LOG_COLLECTION].find({"status_code": 200}))


def rows(db: psycopg.Connection, table: str) -> list[Any]:
    return sorted(map(repr, db.execute(f"SELECT * FROM {table}").fetchall()))


def test_the_plan_covers_routes_and_future_days_once(small: Settings) -> None:
    day = date(2026, 11, 24)
    searches = plan(small, day)
    assert len(searches) == len(set(searches)) == 4 * 5
    assert {(s.origin, s.destination) for s in searches} == {
        ("MOW", "DXB"), ("DXB", "MOW"), ("KZN", "DXB"), ("DXB", "KZN"),
    }  # fmt: skip
    for search in searches:
        assert day < search.departure <= day + timedelta(days=20)
        assert search.departure.toordinal() % 4 == 0  # calendar-aligned: recurs on later days
        assert search.returning == search.departure + timedelta(days=5)
    later = {s.departure for s in plan(small, day + timedelta(days=1))}
    assert {s.departure for s in searches} - later <= {date(2026, 11, 25)}


def test_backfill_logs_one_search_per_route_and_day_per_search_date_and_resumes(
    small: Settings, mongo: Any
) -> None:
    stats = backfill(small, mongo, days=3)
    assert [s.search_date for s in stats] == [today() - timedelta(days=k) for k in (3, 2, 1)]
    assert all(s.planned == 20 and s.calls == 20 and s.skipped == 0 for s in stats)
    seen = Counter(
        (log["search_date"], log["request"]["origin"], log["request"]["destination"],
         log["request"]["departure_at"], log["request"]["return_at"])
        for log in successful_logs(mongo)
    )  # fmt: skip
    assert len(seen) == 60 and set(seen.values()) == {1}  # no duplicates per search date
    answered_before = len(successful_logs(mongo))
    again = backfill(small, mongo, days=3)
    assert [(s.skipped, s.calls) for s in again] == [(20, 0)] * 3
    assert len(successful_logs(mongo)) == answered_before


def test_backfill_to_tickets_end_to_end_and_a_rerun_changes_nothing(
    small: Settings, mongo: Any, db: psycopg.Connection
) -> None:
    backfill(small, mongo, days=3)
    logs = list(mongo[LOG_COLLECTION].find({}))
    offers = sum(len((log.get("response") or {}).get("data") or []) for log in logs)
    first = defs.materialize("request_logs")
    assert first.ok, first.outcomes
    assert first["request_logs"].result.rejects == 0
    count = db.execute("SELECT count(*) FROM aviasales.tickets").fetchone()[0]
    assert count == offers > 0
    assert db.execute("SELECT count(*) FROM aviasales.request_logs").fetchone()[0] == len(logs)
    # found_at is the time of the (simulated) search, never the load time
    mismatched = db.execute(
        "SELECT count(*) FROM aviasales.tickets t JOIN aviasales.request_logs r USING (request_id)"
        " WHERE (t.found_at AT TIME ZONE 'UTC')::date <> r.search_date"
    ).fetchone()[0]
    assert mismatched == 0
    newest = db.execute("SELECT max(found_at) FROM aviasales.tickets").fetchone()[0]
    assert newest.date() < today()
    before = {t: rows(db, t) for t in ("aviasales.request_logs", "aviasales.tickets")}
    again = defs.materialize("request_logs")
    assert again["request_logs"].result.documents_read == 0
    refreshed = defs.materialize("request_logs", full_refresh=True)
    assert refreshed["request_logs"].result.documents_unchanged == len(logs)
    assert {t: rows(db, t) for t in before} == before


def log_document(**over: Any) -> dict[str, Any]:
    at = datetime(2026, 11, 20, 9, 30)
    offer = {
        "origin": "MOW", "destination": "DXB", "origin_airport": "SVO",
        "destination_airport": "DXB", "price": 31000, "airline": "SU", "flight_number": "520",
        "departure_at": "2026-12-05T23:40:00+03:00", "return_at": "2026-12-12T10:05:00+04:00",
        "transfers": 0, "return_transfers": 0, "duration": 620, "duration_to": 310,
        "duration_back": 310, "link": "/search/MOW0512DXB12121",
    }  # fmt: skip
    doc = {
        "_id": ObjectId(),
        "request": {
            "origin": "MOW",
            "destination": "DXB",
            "departure_at": "2026-12-05",
            "return_at": "2026-12-12",
            "one_way": False,
        },
        "search_date": "2026-11-20",
        "searched_at": at,
        "requested_at": at,
        "status_code": 200,
        "attempts": 1,
        "latency_ms": 12.5,
        "response": {
            "success": True,
            "currency": "rub",
            "data": [
                offer,
                offer | {"airline": "emirates", "price": "free"},
                offer | {"flight_number": "521", "return_at": "2026-12-01T10:05:00+04:00"},
                offer | {"price": 29000},  # the same flight again
                offer | {"airline": "FZ", "flight_number": "912"},
                offer | {"flight_number": "77", "departure_at": "2026-11-19T10:00:00+03:00"},
            ],
        },
        "error": None,
        "updated_at": at,
    }
    return doc | over


def test_bad_offers_are_rejected_one_by_one_and_the_rest_load(
    mongo: Any, db: psycopg.Connection
) -> None:
    doc = log_document()
    mongo[LOG_COLLECTION].insert_one(doc)
    summary = defs.materialize("request_logs")
    assert summary.ok and summary["request_logs"].result.rejects == 4
    loaded = db.execute(
        "SELECT position, airline, price, currency, departure_date, found_at"
        " FROM aviasales.tickets ORDER BY position"
    ).fetchall()
    assert [(p, a, int(price), c) for p, a, price, c, _, _ in loaded] == [
        (0, "SU", 31000, "RUB"),
        (4, "FZ", 31000, "RUB"),
    ]
    assert loaded[0][4] == date(2026, 12, 5)  # the local day, though 20:40 UTC is the 5th too
    assert loaded[0][5].replace(tzinfo=None) == datetime(2026, 11, 20, 9, 30)
    reasons = dict(
        db.execute(
            "SELECT document->>'path', array_to_string(reasons, ' | ') FROM etl.rejects"
        ).fetchall()
    )
    assert "response.data[1].price: 'free' is not a number" in reasons["response.data[1]"]
    assert "does not match ^[A-Z0-9]{2}$" in reasons["response.data[1]"]
    assert reasons["response.data[2]"] == "response.data[2].return_at: is before departure_at"
    duplicate = "same airline, flight_number, departure_at, return_at as response.data[0]"
    assert duplicate in reasons["response.data[3]"]
    stale = "response.data[5].departure_at: is not after the search that found it"
    assert reasons["response.data[5]"] == stale
    log = db.execute(
        "SELECT n_offers, success, departure_date, return_date FROM aviasales.request_logs"
    ).fetchone()
    assert log == (6, True, date(2026, 12, 5), date(2026, 12, 12))


def test_refused_and_failed_calls_are_request_logs_too(mongo: Any, db: psycopg.Connection) -> None:
    at = datetime(2026, 11, 20, 9, 30)
    refused = {
        "_id": ObjectId(), "query": {"origin": "M0W"}, "search_date": "2026-11-20",
        "searched_at": at, "requested_at": at, "status_code": 422, "attempts": 0,
        "latency_ms": 0.4, "response": None, "updated_at": at,
        "error": "refused by the proxy: origin: String should match pattern '^[A-Za-z]{3}$'",
    }  # fmt: skip
    failed = log_document(
        status_code=503, attempts=4, response=None, response_text="<html>503</html>",
        error="upstream answered 503 after 4 attempts", updated_at=at + timedelta(seconds=1),
    )  # fmt: skip
    mongo[LOG_COLLECTION].insert_many([refused, failed])
    assert defs.materialize("request_logs").ok
    loaded = db.execute(
        "SELECT origin, status_code, attempts, success, n_offers, error"
        " FROM aviasales.request_logs ORDER BY status_code"
    ).fetchall()
    assert loaded == [
        (None, 422, 0, False, 0, refused["error"]),
        ("MOW", 503, 4, False, 0, "upstream answered 503 after 4 attempts"),
    ]


def test_backfilling_through_the_real_api_is_refused(mongo: Any, small: Settings) -> None:
    def real_api(request: httpx.Request) -> httpx.Response:  # answers, but as of today
        return httpx.Response(200, json={"success": True, "data": [], "currency": "rub"})

    async def attempt() -> None:
        upstream = Upstream("https://api.example", "t", httpx.MockTransport(real_api))
        app = create_proxy(mongo, upstream)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            day = today() - timedelta(days=2)
            await run_searches(client, small, DayStats(day, 20), plan(small, day))

    with pytest.raises(BackfillUnsupported, match="backfilling needs the simulator"):
        asyncio.run(attempt())


def test_the_ingest_step_then_the_table_asset(
    small: Settings, mongo: Any, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVIASALES_SIM_ERROR_RATE", "1")
    monkeypatch.setenv("AVIASALES_RETRIES", "0")
    get_settings.cache_clear()
    down = defs.materialize("collect_fares+")
    assert down["collect_fares"].status == "failed"
    assert "none of 20 searches was answered" in down["collect_fares"].error
    assert down["request_logs"].status == "skipped"
    monkeypatch.setenv("AVIASALES_SIM_ERROR_RATE", "0")
    get_settings.cache_clear()
    up = defs.materialize("collect_fares+")
    assert up.ok, up.outcomes
    assert up["collect_fares"].result.rows_written == {f"mongo:{LOG_COLLECTION}": 20}
    # nothing lost: the failed calls of the first run load too, as failed requests
    loaded = dict(
        db.execute(
            "SELECT success, count(*) FROM aviasales.request_logs GROUP BY success"
        ).fetchall()
    )
    assert loaded == {False: 20, True: 20}
