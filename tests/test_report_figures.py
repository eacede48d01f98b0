"""The report's own aggregations of the marts, against an independent computation in Python.

Mart rows are written by hand (the marts themselves are tested in test_marts_*.py); each query
of etl/report/data.py must give what the caption says, computed here without SQL.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from etl.definitions import defs
from etl.report.data import QUERIES, fetch

D1 = date(2026, 11, 10)


@pytest.fixture
def marts(db: psycopg.Connection) -> psycopg.Connection:
    """Empty mart tables (built from empty inputs), ready for hand-written rows."""
    assert defs.materialize("group:dwh").ok
    return db


def insert(db: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        columns = ", ".join(row)
        values = ", ".join(f"%({c})s" for c in row)
        db.execute(f"INSERT INTO dwh.{table} ({columns}) VALUES ({values})", row)


def test_price_dynamics_is_the_median_over_departure_days_per_route_and_search_day(
    marts: psycopg.Connection,
) -> None:
    prices = {  # (origin, search day) -> cheapest fare of each departure day searched
        ("MOW", D1): [100, 300, 200, 250],
        ("MOW", D1 + timedelta(1)): [50, 150],
        ("LED", D1): [400],
    }
    insert(marts, "route_price_daily", [
        {"origin": o, "destination": "DXB", "currency": "rub", "search_date": day,
         "departure_date": D1 + timedelta(30 + i), "min_price": price}
        for (o, day), fares in prices.items() for i, price in enumerate(fares)
    ])  # fmt: skip
    got = {
        (r["origin"], r["search_date"]): r["median_min_price"]
        for r in fetch(marts, QUERIES["price_dynamics"]) or []
    }
    assert got == {key: statistics.median(fares) for key, fares in prices.items()}


def test_user_activity_counts_distinct_users_per_day_and_quiet_days_as_zero(
    marts: psycopg.Connection,
) -> None:
    activity = [("U1", D1, 2), ("U2", D1, 1), ("U3", D1, 0), ("U1", D1 + timedelta(3), 1)]
    insert(marts, "user_activity_daily", [
        {"user_id": u, "day": d, "sessions": n} for u, d, n in activity
    ])  # fmt: skip
    got = [
        (r["day"], r["active_users"], r["sessions"])
        for r in fetch(marts, QUERIES["user_activity"]) or []
    ]
    days = [D1 + timedelta(n) for n in range(4)]
    expected = [
        (day, len({u for u, d, _ in activity if d == day}),
         sum(n for _, d, n in activity if d == day))
        for day in days
    ]  # fmt: skip
    assert got == expected  # the two quiet days in between are there, as zeros


def test_weekday_indexes_average_the_routes(marts: psycopg.Connection) -> None:
    indexes = {  # (route, kind, weekday) -> price index
        ("MOW", "departure", 1): 1.10, ("LED", "departure", 1): 0.90,
        ("MOW", "departure", 5): 1.20, ("MOW", "search", 1): 0.95,
        ("LED", "search", 1): 0.99,
    }  # fmt: skip
    insert(marts, "weekday_prices", [
        {"origin": o, "destination": "DXB", "currency": "rub", "weekday_kind": kind,
         "weekday": wd, "weekday_name": ["Mon", "Tue", "Wed", "Thu", "Fri"][wd - 1],
         "price_index": index}
        for (o, kind, wd), index in indexes.items()
    ])  # fmt: skip
    got = {r["weekday"]: r for r in fetch(marts, QUERIES["weekday_prices"]) or []}
    for weekday in (1, 5):
        for kind, column in (("departure", "departure_index"), ("search", "search_index")):
            values = [i for (_, k, wd), i in indexes.items() if k == kind and wd == weekday]
            expected = statistics.fmean(values) if values else None
            assert got[weekday][column] == pytest.approx(expected), (weekday, kind)
        routes = {o for (o, _, wd) in indexes if wd == weekday}
        assert got[weekday]["routes"] == len(routes)
