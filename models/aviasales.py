"""Air-fare searches (Aviasales Data API through our logging proxy), normalised.

`request_logs` has one row per logged call, failures included; `tickets` one row per offer per
search, a child of its request so a re-loaded log replaces its offers. `found_at` is the time of
the search, not of the load: it is what the booking-window analysis measures from.

A call the proxy refused before asking the upstream (a 422: bad IATA code, bad date) still has a
row, with `origin`/`destination` NULL when they were not valid codes and the reason in `error`.
`departure_date`/`return_date` are the requested days (NULL for a whole-month query);
`tickets.departure_date` is the offer's local calendar day, as the API wrote it with its offset.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import Money, ParentKey, SourceTracked, Text, Timestamp, checked

SCHEMA = {"schema": "aviasales"}
IATA_CITY = "^[A-Z]{3}$"
IATA_AIRLINE = "^[A-Z0-9]{2}$"


def Iata(**kwargs: Any) -> Any:
    """A three-letter IATA city or airport code."""
    return Field(sa_type=sa.CHAR(3), schema_extra={"pattern": IATA_CITY}, **kwargs)


@checked
class RequestLog(SourceTracked, table=True):
    __tablename__ = "request_logs"
    __table_args__ = SCHEMA

    request_id: str = Text(primary_key=True)
    origin: str | None = Iata(default=None, index=True)
    destination: str | None = Iata(default=None, index=True)
    departure_date: date | None = Field(default=None)
    return_date: date | None = Field(default=None)
    one_way: bool | None = Field(default=None)
    search_date: date = Field(index=True)
    status_code: int | None = Field(default=None, ge=100, le=599)
    success: bool
    latency_ms: float = Field(ge=0)
    attempts: int = Field(default=0, ge=0)  # 0: refused by the proxy, never sent upstream
    currency: str | None = Text()
    n_offers: int = Field(default=0, ge=0)
    requested_at: datetime = Timestamp(index=True)
    error: str | None = Text()


@checked
class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        sa.UniqueConstraint(
            "request_id",
            "airline",
            "flight_number",
            "departure_at",
            "return_at",
            name="uq_tickets_offer",
            postgresql_nulls_not_distinct=True,
        ),
        SCHEMA,
    )

    request_id: str = ParentKey("aviasales.request_logs.request_id")
    position: int = Field(primary_key=True, ge=0)
    origin: str = Iata()
    destination: str = Iata()
    origin_airport: str = Iata()
    destination_airport: str = Iata()
    airline: str = Field(sa_type=sa.Text, schema_extra={"pattern": IATA_AIRLINE})
    flight_number: str = Text()
    departure_at: datetime = Timestamp(index=True)
    departure_date: date = Field(index=True)
    return_at: datetime | None = Timestamp()
    price: Decimal = Money(ge=Decimal("0.01"))  # a fare of 0 is a broken offer
    currency: str = Field(sa_type=sa.CHAR(3), schema_extra={"pattern": "^[A-Z]{3}$"})
    transfers: int = Field(ge=0)
    return_transfers: int | None = Field(default=None, ge=0)
    duration: int | None = Field(default=None, ge=0)
    duration_to: int | None = Field(default=None, ge=0)
    duration_back: int | None = Field(default=None, ge=0)
    link: str | None = Text()
    found_at: datetime = Timestamp(index=True)
