"""A stand-in for the Travelpayouts Aviasales Data API: `GET /aviasales/v3/prices_for_dates`.

Same parameters and response shape as the real endpoint, prices from the documented model in
`prices.py`, and the failures a client must survive, each configurable: 401 on a bad token, 429
with Retry-After above a request rate, rare 5xx (some with a non-JSON body), and empty `data` for
some queries. One extra parameter, `search_date`, makes the search "as of" an earlier day so a
price history can be backfilled; the day used is echoed in the `X-Search-Date` header, which is
how the proxy tells the simulator from the real API.
"""

from __future__ import annotations

import calendar
import hashlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from generator.aviasales.network import CITIES, Flight, flights
from generator.aviasales.prices import PriceModel
from generator.settings import GeneratorSettings, generator_settings

PATH = "/aviasales/v3/prices_for_dates"
SIMULATOR_TOKEN = "simulator-token"
"""The token the bundled simulator accepts when AVIASALES_TOKEN is unset (not a secret)."""
RUB_PER_UNIT = {"rub": 1.0, "usd": 92.0, "eur": 100.0}
DEFAULT_STAY_DAYS = 7
MONTH_QUERY_DAYS = 31
BOARDING = timedelta(hours=2)
"""A flight leaving sooner than this after the search is not offered any more."""

Iata = Annotated[str, Query(pattern="^[A-Za-z]{3}$")]
Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}(-\d{2})?$")]


@dataclass
class SimulatorConfig:
    token: str = SIMULATOR_TOKEN
    seed: int = 42
    rate_limit: float | None = 50.0
    """Requests per second above which the simulator answers 429 (None: no limit)."""
    error_rate: float = 0.01
    """Share of requests answered with a 5xx."""
    empty_rate: float = 0.02
    """Share of queries whose `data` is empty (the same queries every time)."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The simulator's clock (UTC): "today", and the time of day of a backfilled search."""


@dataclass(frozen=True)
class Search:
    origin: str
    destination: str | None
    departures: list[date]
    returning: date | None
    round_trip: bool
    direct: bool
    searched: date
    not_before: datetime
    """Flights leaving before this (the search moment + BOARDING) are not offered."""


def create_simulator(config: SimulatorConfig | None = None) -> FastAPI:
    """The simulator as an ASGI app (served by uvicorn, or called in-process by httpx)."""
    config = config or SimulatorConfig()
    model = PriceModel(config.seed)
    rng = random.Random(config.seed)
    recent: deque[float] = deque()
    app = FastAPI(
        title="Aviasales Data API simulator",
        description=__doc__,
        version="3-sim",
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(PATH)
    async def prices_for_dates(
        origin: Iata,
        destination: Iata | None = None,
        departure_at: Day = None,
        return_at: Day = None,
        one_way: bool = True,
        direct: bool = False,
        currency: str = "rub",
        market: str = "ru",
        limit: Annotated[int, Query(ge=1, le=1000)] = 30,
        page: Annotated[int, Query(ge=1)] = 1,
        sorting: Literal["price", "route"] = "price",
        unique: bool = False,
        token: str | None = None,
        search_date: date | None = None,
        x_access_token: Annotated[str | None, Header()] = None,
    ) -> Response:
        if (x_access_token or token) != config.token:
            return JSONResponse({"success": False, "error": "Unauthorized"}, status_code=401)
        if config.rate_limit and _over_limit(recent, config.rate_limit):
            return JSONResponse(
                {"success": False, "error": "Too Many Requests"},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        if rng.random() < config.error_rate:
            if rng.random() < 0.5:
                return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=502)
            return JSONResponse({"success": False, "error": "internal error"}, status_code=500)
        now = config.now()
        today = now.date()
        searched = search_date or today
        if searched > today:
            return _bad_request(f"search_date {searched} is in the future")
        if currency.lower() not in RUB_PER_UNIT:
            return _bad_request(f"unknown currency {currency!r}")
        moment = datetime.combine(searched, now.timetz())  # a backfill keeps the time of day
        query = _query(origin, destination, departure_at, return_at, one_way, direct, moment)
        if isinstance(query, str):
            return _bad_request(query)
        offers = [] if _is_empty(config, query) else _offers(model, query, currency.lower())
        if unique:
            cheapest: dict[tuple[str, str], dict[str, Any]] = {}
            for offer in sorted(offers, key=lambda o: o["price"]):
                cheapest.setdefault((offer["origin"], offer["destination"]), offer)
            offers = list(cheapest.values())
        order = (lambda o: o["price"]) if sorting == "price" else _route_order
        offers.sort(key=order)
        body = {
            "success": True,
            "data": offers[(page - 1) * limit : page * limit],
            "currency": currency.lower(),
        }
        return JSONResponse(body, headers={"X-Search-Date": searched.isoformat()})

    return app


def _route_order(offer: dict[str, Any]) -> tuple[str, str, int]:
    return (offer["origin"], offer["destination"], offer["price"])


def _over_limit(recent: deque[float], per_second: float) -> bool:
    now = time.monotonic()
    while recent and now - recent[0] > 1.0:
        recent.popleft()
    if len(recent) >= per_second:
        return True
    recent.append(now)
    return False


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=400)


def _days(value: str | None, searched: date, default_span: int) -> list[date] | str:
    """A day ("2026-12-05"), a month ("2026-12") or nothing (the next `default_span` days)."""
    try:
        if value is None:
            return [searched + timedelta(days=k) for k in range(1, default_span + 1)]
        if len(value) == 7:
            year, month = map(int, value.split("-"))
            last = calendar.monthrange(year, month)[1]
            return [date(year, month, d) for d in range(1, last + 1)]
        return [date.fromisoformat(value)]
    except ValueError:
        return f"{value!r} is not a valid date"


def _query(
    origin: str,
    destination: str | None,
    departure_at: str | None,
    return_at: str | None,
    one_way: bool,
    direct: bool,
    moment: datetime,
) -> Search | str:
    searched = moment.date()
    origin, destination = origin.upper(), destination.upper() if destination else None
    for code in (origin, destination):
        if code is not None and code not in CITIES:
            return f"unknown city {code}"
    departures = _days(departure_at, searched, MONTH_QUERY_DAYS)
    if isinstance(departures, str):
        return departures
    returning = None
    if return_at is not None and len(return_at) == 10:
        try:
            returning = date.fromisoformat(return_at)
        except ValueError:
            return f"{return_at!r} is not a valid date"
    return Search(
        origin=origin,
        destination=destination,
        departures=[d for d in departures if d > searched],
        returning=returning,
        round_trip=not one_way,
        direct=direct,
        searched=searched,
        not_before=moment + BOARDING,
    )


def _is_empty(config: SimulatorConfig, query: Search) -> bool:
    """Some queries find nothing in the cache, and keep finding nothing (deterministic)."""
    key = f"{config.seed}|{query.searched}|{query.origin}|{query.destination}|{query.departures}"
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return h / 2**64 < config.empty_rate


def _offers(model: PriceModel, query: Search, currency: str) -> list[dict[str, Any]]:
    destinations = [query.destination] if query.destination else sorted(CITIES)
    out = []
    for destination in destinations:
        inbound_flights = {(f.airline.code, i): f for i, f in _indexed(destination, query.origin)}
        for n, outbound in _indexed(query.origin, destination):
            if query.direct and outbound.transfers:
                continue
            inbound = inbound_flights.get((outbound.airline.code, n)) if query.round_trip else None
            if query.round_trip and inbound is None:
                continue
            for day in query.departures:
                if _local(outbound, day) <= query.not_before:
                    continue
                returning = None
                if inbound is not None:
                    returning = query.returning or day + timedelta(days=DEFAULT_STAY_DAYS)
                    if returning < day:
                        continue
                fare = model.trip_fare(outbound, day, query.searched, inbound, returning)
                out.append(_offer(outbound, day, inbound, returning, fare, currency))
    return out


def _indexed(origin: str, destination: str) -> list[tuple[int, Flight]]:
    """Flights numbered per airline (0, 1...), so a return flight pairs with its outbound."""
    seen: dict[str, int] = {}
    out = []
    for flight in flights(origin, destination):
        n = seen.get(flight.airline.code, 0)
        seen[flight.airline.code] = n + 1
        out.append((n, flight))
    return out


def _local(flight: Flight, day: date) -> datetime:
    minute = flight.departure_minute
    return datetime.combine(day, clock(minute // 60, minute % 60), CITIES[flight.origin].tz)


def _offer(
    outbound: Flight,
    day: date,
    inbound: Flight | None,
    returning: date | None,
    fare_rub: float,
    currency: str,
) -> dict[str, Any]:
    departs = _local(outbound, day)
    offer: dict[str, Any] = {
        "origin": outbound.origin,
        "destination": outbound.destination,
        "origin_airport": outbound.origin_airport,
        "destination_airport": outbound.destination_airport,
        "price": round(fare_rub / RUB_PER_UNIT[currency]),
        "airline": outbound.airline.code,
        "flight_number": outbound.number,
        "departure_at": departs.isoformat(),
        "transfers": outbound.transfers,
        "duration": outbound.minutes,
        "duration_to": outbound.minutes,
    }
    link = f"/search/{outbound.origin}{day:%d%m}{outbound.destination}"
    if inbound is not None and returning is not None:
        offer |= {
            "return_at": _local(inbound, returning).isoformat(),
            "return_transfers": inbound.transfers,
            "duration": outbound.minutes + inbound.minutes,
            "duration_back": inbound.minutes,
        }
        link += f"{returning:%d%m}"
    offer["link"] = f"{link}1?t={outbound.airline.code}{int(departs.timestamp())}"
    return offer


def simulator_config(settings: GeneratorSettings | None = None) -> SimulatorConfig:
    """The simulator's configuration from the generator's settings (AVIASALES_SIM_*)."""
    settings = settings or generator_settings()
    return SimulatorConfig(
        token=settings.simulator_token or SIMULATOR_TOKEN,
        seed=settings.simulator_seed,
        rate_limit=settings.simulator_rate_limit or None,
        error_rate=settings.simulator_error_rate,
        empty_rate=settings.simulator_empty_rate,
    )


def bundled_fare_api() -> tuple[FastAPI, str]:
    """The `simulator` entry point of the `mongo_assets.fare_api` group (pyproject.toml): the
    app and the token it accepts. The ingest package calls it through the entry point when
    AVIASALES_API_URL is unset, so it never imports this package. Settings are read afresh on
    each call (it is called once per collection)."""
    config = simulator_config(GeneratorSettings())
    return create_simulator(config), config.token
