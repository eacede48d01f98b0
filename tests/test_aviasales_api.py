"""The Aviasales simulator's contract, and the logging proxy: validation, retries, log, token."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from bson import json_util

from generator.aviasales.prices import BOOKING_CURVE, CHEAPEST_WINDOW, booking_factor
from generator.aviasales.simulator import PATH, SIMULATOR_TOKEN, SimulatorConfig, create_simulator
from ingest.aviasales.log import LOG_COLLECTION
from ingest.aviasales.proxy import Upstream, create_proxy

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
IATA = re.compile(r"^[A-Z]{3}$")
TOKEN = "secret-token-4242"


def simulate(config: SimulatorConfig | None = None, **params: Any) -> httpx.Response:
    """One call to a fresh in-process simulator (its day fixed at TODAY)."""
    config = config or SimulatorConfig(rate_limit=None, error_rate=0, empty_rate=0, now=lambda: NOW)
    return asyncio.run(_get(create_simulator(config), params, {"X-Access-Token": config.token}))


async def _get(app: Any, params: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        return await client.get(PATH, params=params, headers=headers)


ROUND_TRIP = {
    "origin": "MOW",
    "destination": "DXB",
    "departure_at": "2027-01-20",
    "return_at": "2027-01-27",
    "one_way": "false",
    "limit": 1000,
}


# -- the simulator ----------------------------------------------------------------------------


def test_response_shape_and_offer_fields() -> None:
    response = simulate(**ROUND_TRIP)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["currency"] == "rub"
    offers = body["data"]
    assert len(offers) >= 5
    for offer in offers:
        for field in ("origin", "destination", "origin_airport", "destination_airport"):
            assert IATA.match(offer[field]), (field, offer[field])
        assert (offer["origin"], offer["destination"]) == ("MOW", "DXB")
        assert isinstance(offer["price"], int) and offer["price"] > 0
        assert re.match(r"^[A-Z0-9]{2}$", offer["airline"])
        assert isinstance(offer["flight_number"], str)
        departs = datetime.fromisoformat(offer["departure_at"])
        returns = datetime.fromisoformat(offer["return_at"])
        assert departs.utcoffset() == timedelta(hours=3)  # Moscow time, as the API writes it
        assert returns.utcoffset() == timedelta(hours=4)  # Dubai time
        assert departs.date() == date(2027, 1, 20) and returns.date() == date(2027, 1, 27)
        assert offer["transfers"] in (0, 1) and offer["return_transfers"] in (0, 1)
        assert offer["duration"] == offer["duration_to"] + offer["duration_back"]
        assert offer["link"].startswith("/search/MOW2001DXB2701")
    prices = [o["price"] for o in offers]
    assert prices == sorted(prices)  # sorting=price by default


def test_one_way_month_query_paging_and_filters() -> None:
    month = simulate(origin="LED", destination="DXB", departure_at="2026-11", limit=1000)
    days = {datetime.fromisoformat(o["departure_at"]).date() for o in month.json()["data"]}
    assert days == {TODAY + timedelta(days=k) for k in range(1, 7)}  # 25-30 Nov: never the past
    assert all("return_at" not in o for o in month.json()["data"])
    first = simulate(origin="LED", destination="DXB", departure_at="2026-11", limit=5, page=1)
    second = simulate(origin="LED", destination="DXB", departure_at="2026-11", limit=5, page=2)
    assert first.json()["data"] + second.json()["data"] == month.json()["data"][:10]
    direct = simulate(origin="LED", destination="DXB", departure_at="2026-11", direct="true")
    assert direct.json()["data"] and all(o["transfers"] == 0 for o in direct.json()["data"])
    unique = simulate(origin="LED", destination="DXB", departure_at="2026-11", unique="true")
    assert unique.json()["data"] == month.json()["data"][:1]


def test_same_inputs_give_the_same_prices_and_the_seed_matters() -> None:
    def prices(seed: int) -> list[tuple[str, int]]:
        config = SimulatorConfig(seed=seed, rate_limit=None, error_rate=0, now=lambda: NOW)
        data = simulate(config, **ROUND_TRIP, search_date="2026-11-02").json()["data"]
        return [(o["flight_number"], o["price"]) for o in data]

    assert prices(42) == prices(42)
    assert prices(42) != prices(7)


def test_the_cheapest_booking_window_is_where_the_model_says() -> None:
    low, high = CHEAPEST_WINDOW
    factors = {days: booking_factor(days) for days in range(1, 181)}
    assert min(factors, key=factors.__getitem__) in range(low, high + 1)
    assert all(f <= 0.87 + 1e-9 for d, f in factors.items() if low <= d <= high)
    assert BOOKING_CURVE[0][1] > 1.5  # the last days are the dearest
    # the simulator's prices follow it: one departure day, searched as of 1..120 days before
    departure = date(2026, 11, 20)
    config = SimulatorConfig(
        rate_limit=None,
        error_rate=0,
        empty_rate=0,
        now=lambda: datetime.combine(departure, time(12), UTC),
    )
    by_days: dict[int, float] = {}
    one_way = {"origin": "MOW", "destination": "DXB", "departure_at": departure.isoformat()}
    for days in range(1, 121):
        searched = (departure - timedelta(days=days)).isoformat()
        data = simulate(config, **one_way, search_date=searched).json()["data"]
        by_days[days] = sum(o["price"] for o in data) / len(data)
    windows = {start: sum(by_days[d] for d in range(start, start + 15)) for start in range(1, 106)}
    cheapest = min(windows, key=windows.__getitem__)
    assert low - 5 <= cheapest <= low + 5, cheapest
    assert by_days[1] > 1.5 * by_days[52]


def test_the_cheapest_airline_depends_on_the_route() -> None:
    """Through the simulator's API: the median fare per airline over departures of two months
    makes Turkish cheapest from Moscow, and each home carrier cheapest on its own routes."""
    searched = date(2026, 9, 1)
    config = SimulatorConfig(
        rate_limit=None, error_rate=0, empty_rate=0,
        now=lambda: datetime.combine(searched, time(12), UTC),
    )  # fmt: skip
    cheapest = {}
    for city in ("MOW", "KZN", "SVX", "OVB"):
        prices: dict[str, list[float]] = {}
        for day in range(30, 90, 3):
            departure = (searched + timedelta(days=day)).isoformat()
            query = {"origin": city, "destination": "DXB", "departure_at": departure}
            for offer in simulate(config, **query, search_date=searched.isoformat()).json()["data"]:
                prices.setdefault(offer["airline"], []).append(offer["price"])
        medians = {airline: sorted(p)[len(p) // 2] for airline, p in prices.items()}
        cheapest[city] = min(medians, key=medians.__getitem__)
    assert cheapest == {"MOW": "TK", "KZN": "FZ", "SVX": "U6", "OVB": "S7"}


def test_configurable_failures() -> None:
    guarded = create_simulator(SimulatorConfig(token="right", now=lambda: NOW))
    bad_token = asyncio.run(_get(guarded, ROUND_TRIP, {"X-Access-Token": "wrong"}))
    assert bad_token.status_code == 401 and bad_token.json()["success"] is False
    assert asyncio.run(_get(guarded, ROUND_TRIP, {})).status_code == 401

    async def burst() -> list[httpx.Response]:
        app = create_simulator(SimulatorConfig(rate_limit=2, error_rate=0, now=lambda: NOW))
        headers = {"X-Access-Token": SIMULATOR_TOKEN}
        return [await _get(app, ROUND_TRIP, headers) for _ in range(3)]

    *ok, limited = asyncio.run(burst())
    assert [r.status_code for r in ok] == [200, 200]
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    broken = simulate(SimulatorConfig(rate_limit=None, error_rate=1.0), **ROUND_TRIP)
    assert broken.status_code in (500, 502)
    empty = SimulatorConfig(rate_limit=None, error_rate=0, empty_rate=1.0, now=lambda: NOW)
    assert simulate(empty, **ROUND_TRIP).json() == {"success": True, "data": [], "currency": "rub"}
    token_param = simulate(**ROUND_TRIP, token=SIMULATOR_TOKEN)  # also accepted as a parameter
    assert token_param.status_code == 200


# -- the proxy --------------------------------------------------------------------------------


class Upstreams:
    """A scripted upstream: answers in order, and records what it was sent."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)(request)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": [{"price": 1}], "currency": "rub"})


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, text=f"<html>{code}</html>", headers=headers)


def proxy_call(
    mongo: Any, upstream: Upstreams | Any, params: dict[str, Any], **settings: Any
) -> tuple[httpx.Response, list[float]]:
    """One call through a proxy whose upstream is `upstream`; returns it and the sleeps made."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    transport = upstream if isinstance(upstream, httpx.AsyncBaseTransport) else None
    transport = transport or httpx.MockTransport(upstream)
    config = Upstream("https://api.example", TOKEN, transport, **settings)
    app = create_proxy(mongo, config, sleep=sleep)
    return asyncio.run(_get(app, params, {})), slept


def logged(mongo: Any) -> list[dict[str, Any]]:
    return list(mongo[LOG_COLLECTION].find({}).sort([("updated_at", 1), ("_id", 1)]))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"origin": "MO1", "destination": "DXB"}, "origin"),
        ({"origin": "MOW", "destination": "DXB", "departure_at": "2026-13-01"}, "departure_at"),
        ({"origin": "MOW", "destination": "DXB", "limit": 1001}, "limit"),
        ({"origin": "MOW", "departure_at": "2027-01-10", "return_at": "2027-01-03"}, "return_at"),
        ({"origin": "MOW", "search_date": "2999-01-01"}, "search_date"),
        ({"destination": "DXB"}, "origin"),
    ],
)
def test_bad_input_is_a_clear_422_and_is_logged(mongo: Any, params: dict, field: str) -> None:
    upstream = Upstreams()  # must never be called
    response, _ = proxy_call(mongo, upstream, params)
    assert response.status_code == 422
    assert field in json.dumps(response.json())
    assert upstream.requests == []
    (log,) = logged(mongo)
    assert log["status_code"] == 422 and log["attempts"] == 0
    assert "request" not in log and field in log["error"]
    assert log["query"] == {k: str(v) for k, v in params.items()}


def test_a_429_is_retried_after_the_time_the_upstream_asks(mongo: Any) -> None:
    upstream = Upstreams(status(429, **{"Retry-After": "2"}), ok)
    response, slept = proxy_call(mongo, upstream, {"origin": "mow", "destination": "dxb"})
    assert response.status_code == 200 and response.json()["data"] == [{"price": 1}]
    assert slept == [2.0]
    (log,) = logged(mongo)
    assert (log["status_code"], log["attempts"], log["error"]) == (200, 2, None)
    assert log["request"]["origin"] == "MOW"  # validated and normalised


def test_a_retry_after_longer_than_the_limit_ends_the_call(mongo: Any) -> None:
    upstream = Upstreams(status(429, **{"Retry-After": "120"}))
    response, slept = proxy_call(mongo, upstream, {"origin": "MOW"}, max_wait_s=30)
    assert response.status_code == 429 and slept == []
    (log,) = logged(mongo)
    assert "Retry-After 120 s > AVIASALES_MAX_WAIT 30 s" in log["error"]


def test_5xx_is_retried_with_backoff_and_a_final_failure_is_logged(mongo: Any) -> None:
    upstream = Upstreams(status(503), status(502), ok)
    response, slept = proxy_call(mongo, upstream, {"origin": "MOW"}, backoff_s=0.5)
    assert response.status_code == 200 and slept == [0.5, 1.0]
    failing = Upstreams(*[status(503)] * 4)
    response, slept = proxy_call(mongo, failing, {"origin": "KZN"}, retries=3, backoff_s=0.5)
    assert response.status_code == 503 and slept == [0.5, 1.0, 2.0]
    assert response.text == "<html>503</html>"  # the client gets the upstream's answer
    last = logged(mongo)[-1]
    assert (last["status_code"], last["attempts"]) == (503, 4)
    assert last["error"] == "upstream answered 503 after 4 attempts"
    assert last["response"] is None and last["response_text"] == "<html>503</html>"


def test_an_unreachable_or_silent_upstream_is_a_logged_gateway_error(mongo: Any) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    response, slept = proxy_call(mongo, Upstreams(*[timeout] * 2), {"origin": "MOW"}, retries=1)
    assert response.status_code == 504 and len(slept) == 1
    log = logged(mongo)[-1]
    assert log["status_code"] is None and log["attempts"] == 2
    assert log["error"].startswith("upstream timed out after 10 s")


def test_the_token_goes_in_a_header_and_is_never_stored_or_logged(
    mongo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # listen to the proxy's own log and to httpx's request lines directly: another test's
    # logging setup (Airflow's) may stop them from reaching the root logger
    loggers = [logging.getLogger(name) for name in ("httpx", "ingest.aviasales.proxy")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.DEBUG)
    try:
        upstream = Upstreams(ok, status(500), status(500), status(500), status(500))
        proxy_call(mongo, upstream, {"origin": "MOW", "token": TOKEN})
        proxy_call(mongo, upstream, {"origin": "MOW", "destination": "DXB"})
        proxy_call(mongo, upstream, {"origin": "M0W", "token": TOKEN})  # refused
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(caplog.handler)
            logger.setLevel(level)
    assert len(upstream.requests) == 5
    assert all(r.headers["X-Access-Token"] == TOKEN for r in upstream.requests)
    assert all(TOKEN not in str(r.url) for r in upstream.requests)
    stored = json_util.dumps(logged(mongo))
    assert len(logged(mongo)) == 3 and TOKEN not in stored
    # the test's own client logs the URL it called; everything the proxy side logged is clean
    proxy_side = [r.getMessage() for r in caplog.records if "http://sim/" not in r.getMessage()]
    assert sum("api.example" in line for line in proxy_side) >= 5  # httpx: upstream calls
    assert sum(line.startswith("search ") for line in proxy_side) >= 3  # one line per call
    assert not any(TOKEN in line for line in proxy_side)
    assert logged(mongo)[0]["upstream_url"].startswith("https://api.example/aviasales/v3/")


def test_the_response_body_is_stored_unchanged(mongo: Any) -> None:
    body = {"success": True, "data": [{"price": 10, "nested": {"x": [1, 2.5, None]}}],
            "currency": "rub", "extra": "kept"}  # fmt: skip
    upstream = Upstreams(lambda request: httpx.Response(200, json=body))
    response, _ = proxy_call(mongo, upstream, {"origin": "MOW"})
    (log,) = logged(mongo)
    assert log["response"] == body == response.json()
    assert response.headers["X-Request-Id"] == str(log["_id"])
    assert log["searched_at"] == log["requested_at"]
    assert log["search_date"] == datetime.now(UTC).date().isoformat()


def test_search_date_needs_the_simulator(mongo: Any) -> None:
    """The real API ignores search_date: the proxy says so instead of mislabelling today's data."""
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    response, _ = proxy_call(mongo, Upstreams(ok), {"origin": "MOW", "search_date": yesterday})
    assert response.status_code == 422 and "backfilling needs the simulator" in response.text
    (log,) = logged(mongo)
    assert log["search_date"] == datetime.now(UTC).date().isoformat()  # what the data really is
    simulator = httpx.ASGITransport(app=create_simulator(SimulatorConfig(token=TOKEN)))
    response, _ = proxy_call(
        mongo, simulator, {"origin": "MOW", "destination": "DXB", "search_date": yesterday}
    )
    assert response.status_code == 200
    log = logged(mongo)[-1]
    assert log["search_date"] == yesterday
    assert log["searched_at"].date().isoformat() == yesterday
    assert log["searched_at"].time() == log["requested_at"].time()


def test_health_and_openapi_docs(mongo: Any) -> None:
    async def fetch(app: Any, path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get(path)

    proxy = create_proxy(mongo, Upstream("https://api.example", TOKEN))
    simulator = create_simulator()
    for app in (proxy, simulator):
        assert asyncio.run(fetch(app, "/health")).json()["status"] == "ok"
        spec = asyncio.run(fetch(app, "/openapi.json")).json()
        assert PATH in spec["paths"]
        assert asyncio.run(fetch(app, "/docs")).status_code == 200
    operation = asyncio.run(fetch(proxy, "/openapi.json")).json()["paths"][PATH]["get"]
    params = {p["name"] for p in operation["parameters"]}
    assert {"origin", "destination", "departure_at", "return_at", "limit", "search_date"} <= params
    assert logged(mongo) == []  # health checks and docs are not searches
