"""The simulator's price model: a documented truth for the analytics to find.

The fare of one flight leg departing on day D, found by a search made on day S:

      base fare of the city pair (RUB; flights out of Dubai * 1.05)
    * season(D)            Dubai's high season: dearest around New Year, cheapest in July
    * booking(D - S)       the days-before-departure curve: cheapest 45-60 days ahead
                           (0.85 at 52 days), dearest on the last days (1.55 the day before)
    * departure weekday    Tuesday 0.95 ... Friday 1.08
    * search weekday       Tuesday 0.98 ... Saturday 1.02 (the small "buy on Tuesday" effect)
    * airline              Emirates 1.30, Aeroflot 1.15, S7 1.05, flydubai 1.00, Ural 0.92,
                           Turkish (one stop) 0.85; on its home routes an airline is cheaper:
                           flydubai from Kazan and Sochi 0.76, Ural from Yekaterinburg 0.74,
                           S7 from Novosibirsk 0.76 (so the cheapest carrier is Turkish from
                           Moscow and St Petersburg, and the local one elsewhere)
    * flight noise         lognormal, sigma 6 %, fixed for a flight and departure day
    * daily noise          lognormal, sigma 2 %, drawn again for every search day

A round trip adds the return leg, priced the same way on its own day, with 10 % off. Every
factor is a pure function of (seed, S, flight, D): the same search gives the same prices, and a
history can be backfilled by searching "as of" earlier days. `python -m generator aviasales
model` prints the curves.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from generator.aviasales.network import RETURN_DIRECTION_FACTOR, Flight, leg

BOOKING_CURVE = (
    (0, 1.55), (3, 1.42), (7, 1.28), (14, 1.14), (21, 1.05), (30, 0.97), (45, 0.87),
    (52, 0.85), (60, 0.87), (75, 0.93), (90, 1.00), (120, 1.06), (180, 1.08),
)  # fmt: skip
"""(days before departure, factor), linear in between, flat after the last point."""
CHEAPEST_WINDOW = (45, 60)
"""Days before departure where the booking factor is lowest (≤ 0.87): when to buy."""

SEASON = (1.20, 1.15, 1.10, 1.00, 0.90, 0.80, 0.78, 0.80, 0.92, 1.05, 1.12, 1.20)
"""Factor in the middle of each month (January first), linear in between."""
NEW_YEAR_PEAK = 1.25
"""Extra factor for departures from 25 December to 8 January."""

DEPARTURE_WEEKDAY = (1.00, 0.95, 0.96, 1.02, 1.08, 1.03, 1.06)  # Monday first
SEARCH_WEEKDAY = (1.01, 0.98, 0.99, 1.00, 1.01, 1.02, 1.00)
FLIGHT_NOISE = 0.06
DAILY_NOISE = 0.02
RETURN_LEG_DISCOUNT = 0.90


def booking_factor(days_before: int) -> float:
    days = [d for d, _ in BOOKING_CURVE]
    if days_before <= days[0]:
        return BOOKING_CURVE[0][1]
    if days_before >= days[-1]:
        return BOOKING_CURVE[-1][1]
    i = bisect_right(days, days_before)
    (d0, f0), (d1, f1) = BOOKING_CURVE[i - 1], BOOKING_CURVE[i]
    return f0 + (f1 - f0) * (days_before - d0) / (d1 - d0)


def season_factor(day: date) -> float:
    """Monthly factors interpolated between mid-months, times the New Year peak."""
    months = day.year * 12 + day.month - 1 + (day.day - 15) / 30.5
    below = math.floor(months)
    weight = months - below
    factor = SEASON[below % 12] * (1 - weight) + SEASON[(below + 1) % 12] * weight
    new_year = (day.month == 12 and day.day >= 25) or (day.month == 1 and day.day <= 8)
    return factor * (NEW_YEAR_PEAK if new_year else 1.0)


def _normal(*parts: object) -> float:
    """A standard normal draw that is a pure function of `parts` (Box-Muller on a hash)."""
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    u1 = (int.from_bytes(h[:8], "big") + 1) / 2**64
    u2 = int.from_bytes(h[8:], "big") / 2**64
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


@dataclass(frozen=True)
class PriceModel:
    seed: int = 42

    def leg_fare(self, flight: Flight, departure: date, searched: date) -> float:
        """The fare in RUB of one flight leg departing on `departure`, found on `searched`."""
        route = leg(flight.origin, flight.destination)
        assert route is not None, f"no fare for {flight.origin}-{flight.destination}"
        direction = RETURN_DIRECTION_FACTOR if flight.origin == "DXB" else 1.0
        identity = (self.seed, flight.airline.code, flight.number, flight.origin, departure)
        noise = math.exp(
            FLIGHT_NOISE * _normal(*identity) + DAILY_NOISE * _normal(*identity, searched)
        )
        return (
            route.base_fare_rub
            * direction
            * season_factor(departure)
            * booking_factor((departure - searched).days)
            * DEPARTURE_WEEKDAY[departure.weekday()]
            * SEARCH_WEEKDAY[searched.weekday()]
            * flight.airline.factor_for(
                flight.destination if flight.origin == "DXB" else flight.origin
            )
            * noise
        )

    def trip_fare(
        self,
        outbound: Flight,
        departure: date,
        searched: date,
        inbound: Flight | None = None,
        returning: date | None = None,
    ) -> float:
        """A one-way fare, or a round trip's: outbound plus the discounted return leg."""
        fare = self.leg_fare(outbound, departure, searched)
        if inbound is not None and returning is not None:
            fare += RETURN_LEG_DISCOUNT * self.leg_fare(inbound, returning, searched)
        return fare
