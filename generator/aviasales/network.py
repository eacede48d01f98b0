"""The simulated air network: cities, airports, time zones, airlines and the flights they run.

Invented but plausible numbers for the Russia ↔ Dubai market; the simulator prices these flights
with `generator.aviasales.prices`. Everything is a pure function of its inputs (a flight's time
and number come from a hash of route and airline), so the same query always sees the same flights.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta, timezone


@dataclass(frozen=True)
class City:
    code: str
    airports: tuple[str, ...]
    utc_offset_hours: int

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))


CITIES = {
    c.code: c
    for c in (
        City("MOW", ("SVO", "DME", "VKO"), 3),
        City("LED", ("LED",), 3),
        City("KZN", ("KZN",), 3),
        City("SVX", ("SVX",), 5),
        City("OVB", ("OVB",), 7),
        City("AER", ("AER",), 3),
        City("DXB", ("DXB",), 4),
    )
}


@dataclass(frozen=True)
class Leg:
    """A city pair's fare base and direct flight time (either direction)."""

    base_fare_rub: int
    minutes: int


LEGS: dict[frozenset[str], Leg] = {
    frozenset(("MOW", "DXB")): Leg(28_000, 310),
    frozenset(("LED", "DXB")): Leg(32_000, 350),
    frozenset(("KZN", "DXB")): Leg(30_000, 300),
    frozenset(("SVX", "DXB")): Leg(31_000, 290),
    frozenset(("OVB", "DXB")): Leg(36_000, 380),
    frozenset(("AER", "DXB")): Leg(26_000, 260),
}
RETURN_DIRECTION_FACTOR = 1.05
"""Flights out of Dubai back to Russia cost 5% more than the outbound direction."""


@dataclass(frozen=True)
class Airline:
    code: str
    name: str
    factor: float
    """Multiplies the route's fare: the airline's price level."""
    serves: frozenset[str]
    """Russian cities it flies from/to Dubai (direct flights, or via its hub)."""
    via: str | None = None
    """Hub of a one-stop itinerary (IATA city), None for direct flights."""
    deals: tuple[tuple[str, float], ...] = ()
    """(Russian city, factor) where the airline prices below its level: its home markets, so
    the cheapest carrier differs from route to route as it does in real fares."""

    def factor_for(self, russian_city: str) -> float:
        """The airline's price level on the route to or from `russian_city`."""
        return self.factor * dict(self.deals).get(russian_city, 1.0)


AIRLINES = (
    Airline("EK", "Emirates", 1.30, frozenset({"MOW", "LED"})),
    Airline("SU", "Aeroflot", 1.15, frozenset({"MOW", "LED", "AER", "SVX"})),
    Airline(
        "FZ",
        "flydubai",
        1.00,
        frozenset({"MOW", "LED", "KZN", "SVX", "OVB", "AER"}),
        deals=(("KZN", 0.76), ("AER", 0.76)),
    ),
    Airline("U6", "Ural Airlines", 0.92, frozenset({"SVX", "MOW", "KZN"}), deals=(("SVX", 0.8),)),
    Airline("S7", "S7 Airlines", 1.05, frozenset({"OVB", "MOW"}), deals=(("OVB", 0.72),)),
    Airline("TK", "Turkish Airlines", 0.85, frozenset(CITIES) - {"DXB"}, via="IST"),
)
CONNECTION_MINUTES = 240
"""What a stop adds to the trip (second flight plus the wait)."""


@dataclass(frozen=True)
class Flight:
    """One daily flight of an airline on a route: its number, local departure time, airport."""

    airline: Airline
    origin: str
    destination: str
    number: str
    departure_minute: int  # minutes after local midnight
    origin_airport: str
    destination_airport: str
    minutes: int
    transfers: int


def _digest(*parts: object) -> int:
    data = "|".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def leg(origin: str, destination: str) -> Leg | None:
    return LEGS.get(frozenset((origin, destination)))


def flights(origin: str, destination: str) -> list[Flight]:
    """The flights on a route, in a fixed order: one or two a day per airline that serves it."""
    route = leg(origin, destination)
    if route is None:
        return []
    russian = origin if destination == "DXB" else destination
    out = []
    for airline in AIRLINES:
        if russian not in airline.serves:
            continue
        daily = 2 if airline.factor >= 1.0 and airline.via is None and russian == "MOW" else 1
        for n in range(daily):
            h = _digest(airline.code, origin, destination, n)
            out.append(
                Flight(
                    airline=airline,
                    origin=origin,
                    destination=destination,
                    number=str(100 + h % 900),
                    departure_minute=(h >> 10) % (24 * 12) * 5,
                    origin_airport=_airport(origin, h >> 20),
                    destination_airport=_airport(destination, h >> 24),
                    minutes=route.minutes + (CONNECTION_MINUTES if airline.via else 0),
                    transfers=1 if airline.via else 0,
                )
            )
    return out


def _airport(city: str, h: int) -> str:
    airports = CITIES[city].airports
    return airports[h % len(airports)]
