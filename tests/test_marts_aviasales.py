"""The Aviasales marts against hand-built searches (answers worked out by hand) and the simulator.

Rows go straight into `aviasales.request_logs` / `aviasales.tickets`; the marts are built with
`materialize` on the session's embedded PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from etl.definitions import defs
from etl.settings import get_settings

MARTS = ("route_price_daily", "route_avg_price", "booking_window", "weekday_prices")
BY_BUCKET = "origin, destination, currency, bucket_start"
MSK = timezone(timedelta(hours=3))
LOG = """
INSERT INTO aviasales.request_logs (request_id, origin, destination, departure_date,
    return_date, one_way, search_date, status_code, success, latency_ms, attempts, currency,
    n_offers, requested_at, error, source_id, source_hash, source_updated_at)
VALUES (%(id)s, %(origin)s, %(destination)s, %(departs)s, NULL, true, %(day)s, 200, true, 12.5,
    1, %(currency)s, %(n)s, %(at)s, NULL, %(id)s, '\\x00', %(at)s)
"""
TICKET = """
INSERT INTO aviasales.tickets (request_id, position, origin, destination, origin_airport,
    destination_airport, airline, flight_number, departure_at, departure_date, return_at, price,
    currency, transfers, found_at)
VALUES (%(id)s, %(position)s, %(origin)s, %(destination)s, %(origin)s, %(destination)s,
    %(airline)s, %(number)s, %(departure_at)s, %(departs)s, NULL, %(price)s, %(currency)s,
    %(transfers)s, %(at)s)
"""
_ids = itertools.count(1)


@dataclass(frozen=True)
class Offer:
    airline: str
    number: str
    departs: date  # the local departure day
    price: int | str
    transfers: int = 0


def search(
    db: psycopg.Connection, route: str, day: date, *offers: Offer, currency: str = "RUB"
) -> str:
    """One logged search made on `day` (at 10:00 UTC) and the offers it found."""
    origin, destination = route.split("-")
    request_id, at = f"R{next(_ids)}", datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    common = {"id": request_id, "origin": origin, "destination": destination, "at": at}
    departs = offers[0].departs if offers else None
    db.execute(
        LOG, common | {"departs": departs, "day": day, "currency": currency, "n": len(offers)}
    )
    for position, offer in enumerate(offers):
        departure_at = datetime.combine(offer.departs, datetime.min.time(), MSK).replace(hour=23)
        db.execute(
            TICKET,
            common
            | {
                "position": position,
                "airline": offer.airline,
                "number": offer.number,
                "departure_at": departure_at,
                "departs": offer.departs,
                "price": Decimal(str(offer.price)),
                "currency": currency,
                "transfers": offer.transfers,
            },
        )
    return request_id


def rows(
    db: psycopg.Connection, mart: str, where: str = "true", order: str = "1, 2, 3, 4, 5"
) -> list[dict[str, Any]]:
    cur = db.cursor(row_factory=dict_row)
    return cur.execute(f"SELECT * FROM dwh.{mart} WHERE {where} ORDER BY {order}").fetchall()


def build(*marts: str, full_refresh: bool = False) -> Any:
    summary = defs.materialize(" ".join(marts), full_refresh=full_refresh)
    assert summary.ok, summary.outcomes
    return summary


def D(value: str) -> Decimal:
    return Decimal(value)


# -- route_price_daily and route_avg_price ----------------------------------------------------

NOV1, NOV2, NOV3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
DEC10, DEC17 = date(2026, 12, 10), date(2026, 12, 17)


def load_searches(db: psycopg.Connection) -> None:
    """Two searches of MOW-DXB on 1 November (a join on route and day would double both),
    one on 2 November; one in USD; DXB-MOW with two airlines tied on the lowest median."""
    search(
        db,
        "MOW-DXB",
        NOV1,
        Offer("SU", "100", DEC10, 30000),
        Offer("TK", "400", DEC10, 20000, transfers=1),
        Offer("FZ", "200", DEC10, 25000),
    )
    search(db, "MOW-DXB", NOV1, Offer("SU", "100", DEC10, 31000), Offer("FZ", "200", DEC10, 24000))
    search(
        db,
        "MOW-DXB",
        NOV2,
        Offer("SU", "100", DEC10, 32000),
        Offer("TK", "400", DEC10, 21000, transfers=1),
    )
    search(db, "MOW-DXB", NOV1, Offer("SU", "100", DEC10, "350.00"), currency="USD")
    search(
        db,
        "DXB-MOW",
        NOV1,
        Offer("SU", "101", DEC17, 50000),
        Offer("FZ", "201", DEC17, 20000),
        Offer("EK", "301", DEC17, 20000),
    )
    search(db, "DXB-MOW", NOV2)  # a search that found nothing adds no row anywhere


def daily(
    origin: str,
    destination: str,
    currency: str,
    departs: date,
    day: date,
    offers: int,
    low: str,
    median: str,
    mean: str,
    direct: str,
) -> dict[str, Any]:
    return {
        "origin": origin,
        "destination": destination,
        "currency": currency,
        "departure_date": departs,
        "search_date": day,
        "offers": offers,
        "min_price": D(low),
        "median_price": D(median),
        "avg_price": D(mean),
        "direct_share": D(direct),
    }


def test_route_price_daily_aggregates_each_offer_once(db: psycopg.Connection) -> None:
    load_searches(db)
    build("route_price_daily")
    assert rows(db, "route_price_daily") == [
        # 1 Nov: DXB-MOW 50000, 20000, 20000
        daily("DXB", "MOW", "RUB", DEC17, NOV1, 3, "20000", "20000", "30000", "1"),
        # 1 Nov, two searches: 30000, 20000 (1 stop), 25000 + 31000, 24000 -> 5 offers, not 10
        daily("MOW", "DXB", "RUB", DEC10, NOV1, 5, "20000", "25000", "26000", "0.8"),
        daily("MOW", "DXB", "RUB", DEC10, NOV2, 2, "21000", "26500", "26500", "0.5"),
        daily("MOW", "DXB", "USD", DEC10, NOV1, 1, "350", "350", "350", "1"),
    ]


def test_route_avg_price_counts_searches_and_finds_the_cheapest_airline(
    db: psycopg.Connection,
) -> None:
    load_searches(db)
    build("route_avg_price")
    assert rows(db, "route_avg_price") == [
        {
            "origin": "DXB",
            "destination": "MOW",
            "currency": "RUB",
            "searches": 1,
            "offers": 3,
            "avg_price": D("30000"),
            "median_price": D("20000"),
            "min_price": D("20000"),
            "cheapest_airline": "EK",  # EK and FZ tie at 20000: the first code
            "cheapest_airline_median": D("20000"),
        },
        {
            # 7 offers: 20000 21000 24000 25000 30000 31000 32000 (sum 183000)
            "origin": "MOW",
            "destination": "DXB",
            "currency": "RUB",
            "searches": 3,
            "offers": 7,
            "avg_price": D("26142.86"),
            "median_price": D("25000"),
            "min_price": D("20000"),
            "cheapest_airline": "TK",  # medians: SU 31000, FZ 24500, TK 20500
            "cheapest_airline_median": D("20500"),
        },
        {
            "origin": "MOW",
            "destination": "DXB",
            "currency": "USD",
            "searches": 1,
            "offers": 1,
            "avg_price": D("350"),
            "median_price": D("350"),
            "min_price": D("350"),
            "cheapest_airline": "SU",
            "cheapest_airline_median": D("350"),
        },
    ]


def test_route_price_daily_rebuilds_only_a_new_search_day(db: psycopg.Connection) -> None:
    load_searches(db)
    first = build("route_price_daily")
    assert first["route_price_daily"].result.note == "full build"
    # rows edited behind the engine's back show which partitions get rebuilt
    db.execute("UPDATE dwh.route_price_daily SET offers = 99")
    search(
        db, "MOW-DXB", NOV3, Offer("FZ", "200", DEC10, 23000), Offer("TK", "400", DEC10, 22000, 1)
    )
    second = build("route_price_daily")["route_price_daily"].result
    assert second.note == "1 partition(s) rebuilt"
    assert second.rows_written == {"dwh.route_price_daily": 1}
    assert rows(db, "route_price_daily", "search_date < '2026-11-03'") == [
        daily("DXB", "MOW", "RUB", DEC17, NOV1, 99, "20000", "20000", "30000", "1"),
        daily("MOW", "DXB", "RUB", DEC10, NOV1, 99, "20000", "25000", "26000", "0.8"),
        daily("MOW", "DXB", "RUB", DEC10, NOV2, 99, "21000", "26500", "26500", "0.5"),
        daily("MOW", "DXB", "USD", DEC10, NOV1, 99, "350", "350", "350", "1"),
    ]
    assert rows(db, "route_price_daily", "search_date = '2026-11-03'") == [
        daily("MOW", "DXB", "RUB", DEC10, NOV3, 2, "22000", "22500", "22500", "0.5"),
    ]
    third = build("route_price_daily")["route_price_daily"].result
    assert third.note == "0 partition(s) rebuilt"


# -- booking_window -----------------------------------------------------------------------------


def follow(db: psycopg.Connection, route: str, flight: Offer, prices: dict[int, int]) -> None:
    """The flight found at `days_before: price`, each time by its own search."""
    for days_before, price in prices.items():
        found = Offer(flight.airline, flight.number, flight.departs, price, flight.transfers)
        search(db, route, flight.departs - timedelta(days=days_before), found)


def load_windows(db: psycopg.Connection) -> None:
    """MOW-DXB: a summer flight followed 3 -> 2 days out, a New Year flight 52 -> 50 days out.

    The plain averages say "buy 1-3 days ahead" (summer fares are low); following each flight
    says that the New Year flight got 11 % dearer from 51 to 50 days out, the summer flight a
    third dearer from 3 to 2 days out, so 46-60 is the cheaper window.
    """
    summer = Offer("FZ", "200", date(2026, 7, 15), 0)
    new_year = Offer("SU", "100", date(2026, 12, 31), 0)
    follow(db, "MOW-DXB", summer, {3: 10000, 2: 12000})
    follow(db, "MOW-DXB", summer, {3: 8100})  # a second search the same day: ln avg = ln 9000
    follow(db, "MOW-DXB", Offer("TK", "400", date(2026, 7, 20), 0, 1), {0: 9000})  # -> '1-3'
    follow(db, "MOW-DXB", Offer("EK", "300", date(2026, 9, 1), 0), {10: 15000})  # no step
    follow(db, "MOW-DXB", new_year, {52: 27000, 51: 27000, 50: 30000})
    follow(db, "MOW-DXB", Offer("EK", "301", date(2027, 3, 1), 0), {130: 20000})  # '121+'
    # DXB-MOW: two flights whose prices never move: the indexes tie, the earlier bucket wins
    follow(db, "DXB-MOW", Offer("FZ", "201", date(2026, 8, 10), 0), {5: 15000, 6: 15000})
    follow(db, "DXB-MOW", Offer("SU", "101", date(2026, 8, 20), 0), {10: 14000, 11: 14000})


def window(
    route: str,
    bucket: str,
    end: int | None,
    offers: int,
    mean: str,
    median: str,
    index: str | None,
    cheapest: bool,
) -> dict[str, Any]:
    origin, destination = route.split("-")
    return {
        "origin": origin,
        "destination": destination,
        "currency": "RUB",
        "bucket": bucket,
        "bucket_start": int(bucket.split("-")[0].rstrip("+")),
        "bucket_end": end,
        "offers": offers,
        "avg_price": D(mean),
        "median_price": D(median),
        "price_index": D(index) if index else None,
        "is_cheapest": cheapest,
    }


def test_booking_window_follows_flights_past_the_season(db: psycopg.Connection) -> None:
    load_windows(db)
    build("booking_window")
    # G(2) = ln(12000 / 9000), G(50) = ln(30000 / 27000), G(51) = 0; chained from the far end:
    # exp L(51) = 1, exp L(50) = 10/9, exp L(2) = 4/3 * 10/9 = 40/27 (G(3..49) absent: 0).
    # 1-3: 40/27; 46-60: (10/9 + 1) / 2 = 19/18; their mean 137/108 -> 160/137 and 114/137.
    built = rows(db, "booking_window", order=BY_BUCKET)
    assert built == [
        window("DXB-MOW", "4-7", 7, 2, "15000", "15000", "1", True),
        window("DXB-MOW", "8-14", 14, 2, "14000", "14000", "1", False),
        window("MOW-DXB", "1-3", 3, 4, "9775", "9500", "1.1679", False),
        window("MOW-DXB", "8-14", 14, 1, "15000", "15000", None, False),
        window("MOW-DXB", "46-60", 60, 3, "28000", "27000", "0.8321", True),
        window("MOW-DXB", "121+", None, 1, "20000", "20000", None, False),
    ]
    # the confound the index corrects: the plain averages point at the summer bucket
    cheapest_by_average = min(
        (r for r in built if r["origin"] == "MOW"), key=lambda r: r["avg_price"]
    )
    assert cheapest_by_average["bucket"] == "1-3"
    per_route = db.execute(
        "SELECT origin, count(*) FILTER (WHERE is_cheapest) FROM dwh.booking_window GROUP BY 1"
    ).fetchall()
    assert sorted(per_route) == [("DXB", 1), ("MOW", 1)]


def test_booking_window_without_any_followed_flight_has_no_index(db: psycopg.Connection) -> None:
    follow(db, "MOW-DXB", Offer("FZ", "200", date(2026, 7, 15), 0), {3: 10000, 40: 8000})
    build("booking_window")
    assert rows(db, "booking_window", order=BY_BUCKET) == [
        window("MOW-DXB", "1-3", 3, 1, "10000", "10000", None, False),
        window("MOW-DXB", "31-45", 45, 1, "8000", "8000", None, False),
    ]


# -- weekday_prices -----------------------------------------------------------------------------


def load_weekdays(db: psycopg.Connection) -> None:
    """Searched on Monday 2 and Tuesday 3 November: SU 100 (Fri 25 Dec) and FZ 200 (Tue 1 Dec)
    on both days, two searches a day; EK 300 (Fri 1 Jan, dear) found on Tuesday only."""
    su, fz = Offer("SU", "100", date(2026, 12, 25), 0), Offer("FZ", "200", date(2026, 12, 1), 0)
    follow(db, "MOW-DXB", su, {53: 40000, 52: 36000})  # Mon, Tue
    follow(db, "MOW-DXB", fz, {29: 11000, 28: 9000})  # Mon, Tue
    follow(db, "MOW-DXB", Offer("EK", "300", date(2027, 1, 1), 0), {59: 80000})  # Tue


def weekday(
    kind: str, day: int, name: str, offers: int, mean: str, median: str, index: str
) -> dict[str, Any]:
    return {
        "origin": "MOW",
        "destination": "DXB",
        "currency": "RUB",
        "weekday_kind": kind,
        "weekday": day,
        "weekday_name": name,
        "offers": offers,
        "avg_price": D(mean),
        "median_price": D(median),
        "price_index": D(index),
    }


def test_weekday_prices_compare_search_days_on_the_same_flight(db: psycopg.Connection) -> None:
    load_weekdays(db)
    build("weekday_prices")
    # route average: (40000 + 36000 + 11000 + 9000 + 80000) / 5 = 35200
    # search index: each offer / its flight's average (SU 38000, FZ 10000, EK 80000):
    #   Mon (40/38 + 1.1) / 2 = 1.07632;  Tue (36/38 + 0.9 + 1) / 3 = 0.94912
    assert rows(db, "weekday_prices") == [
        weekday("departure", 2, "Tue", 2, "10000", "10000", "0.2841"),  # 10000 / 35200
        weekday("departure", 5, "Fri", 3, "52000", "40000", "1.4773"),  # 52000 / 35200
        weekday("search", 1, "Mon", 2, "25500", "25500", "1.0763"),
        # the plain average says Tuesday is dearer (EK's New Year fare); the index says cheaper
        weekday("search", 2, "Tue", 3, "41666.67", "36000", "0.9491"),
    ]


# -- all four -----------------------------------------------------------------------------------


def test_rebuilding_gives_identical_contents(db: psycopg.Connection) -> None:
    load_searches(db)
    load_windows(db)
    load_weekdays(db)
    build(*MARTS)
    before = {mart: rows(db, mart) for mart in MARTS}
    assert all(before.values())
    again = build(*MARTS)
    assert again["route_price_daily"].result.note == "0 partition(s) rebuilt"
    assert {mart: rows(db, mart) for mart in MARTS} == before
    refreshed = build(*MARTS, full_refresh=True)
    assert refreshed["route_price_daily"].result.note == "full build"
    assert {mart: rows(db, mart) for mart in MARTS} == before


def test_the_marts_pass_their_expectations_and_a_broken_mart_fails(
    db: psycopg.Connection,
) -> None:
    from etl.quality import run_checkpoint

    load_searches(db)
    load_windows(db)
    build(*MARTS)
    for mart in MARTS:
        result = run_checkpoint(f"dwh.{mart}", defs)
        assert result.evaluated >= 4, (mart, result)  # key rules + row count + hand-written
        assert result.success and not result.warnings, (mart, result)
    db.execute(
        "UPDATE dwh.booking_window SET is_cheapest = true WHERE origin = 'MOW' AND currency = 'RUB'"
    )
    broken = run_checkpoint("dwh.booking_window", defs)
    assert broken.blocking_failures == [
        "a route with a price index has exactly one cheapest bucket, others have none"
        " [1 unexpected rows]"
    ]


# -- from the simulator ---------------------------------------------------------------------


@pytest.fixture
def two_routes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MOW <> DXB, departures every 3rd day up to 90 days ahead, round trips of 7 days."""
    env = {
        "AVIASALES_ROUTES": "MOW<>DXB",
        "AVIASALES_WINDOW_DAYS": "90",
        "AVIASALES_DATE_STEP_DAYS": "3",
        "AVIASALES_STAY_DAYS": "7",
        "AVIASALES_SIM_ERROR_RATE": "0",
        "AVIASALES_SIM_EMPTY_RATE": "0",
        "AVIASALES_SIM_RATE_LIMIT": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_booking_window_finds_the_simulators_cheapest_window(
    db: psycopg.Connection, mongo: Any, two_routes: None
) -> None:
    from generator.aviasales.prices import CHEAPEST_WINDOW
    from ingest.aviasales.collector import backfill

    days = backfill(get_settings(), mongo, days=30)
    assert sum(d.ok for d in days) == sum(d.planned for d in days) > 0
    build("request_logs", "booking_window")
    midpoint = sum(CHEAPEST_WINDOW) // 2  # 52 days before departure
    cheapest = db.execute(
        "SELECT origin, destination, bucket, bucket_start, bucket_end FROM dwh.booking_window"
        " WHERE is_cheapest ORDER BY 1, 2"
    ).fetchall()
    assert [(o, d) for o, d, *_ in cheapest] == [("DXB", "MOW"), ("MOW", "DXB")]
    for _, _, bucket, start, end in cheapest:
        assert start <= midpoint <= end, (bucket, cheapest)
