"""Coercions accepted everywhere (docs/architecture.md, the loading contract), in one place.

Each function takes a raw BSON/JSON value and returns the typed value or raises `CoercionError`
with a short reason. `None` passes through as `None`: whether a value is required is the model's
business (see models.base.column_rules), not the coercion's.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from bson import Decimal128, ObjectId
from bson.int64 import Int64

EPOCH_MS_THRESHOLD = 10**11  # larger epoch numbers are milliseconds (year 5138 in seconds)
CLAMPED = (datetime.min, datetime.max.replace(microsecond=999000))
"""What the drivers return for a BSON date outside Python's range (`DATETIME_CLAMP`, see
etl.services.mongo): such a value is refused as out of range, never stored as if it were real."""


class CoercionError(ValueError):
    """A value could not be turned into the wanted type; the message says why."""


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_EPOCH, _EPOCH_UTC = datetime(1970, 1, 1), datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(value: Any) -> datetime | None:
    """BSON date, ISO-8601 string or epoch number (s or ms) → aware UTC datetime.

    Naive values are taken as UTC (MongoDB stores UTC; pymongo returns naive).
    """
    if value is None:
        return None
    if type(value) is datetime:  # the hot path: BSON dates arrive as naive UTC datetimes
        if value.year in (1, 9999) and value.replace(tzinfo=None) in CLAMPED:
            raise CoercionError(f"{_describe(value)} is outside the supported date range")
        # naive UTC -> aware by adding its offset from the epoch: ten times faster than
        # value.replace(tzinfo=UTC) (0.06 µs vs 0.6 µs), and this runs for every timestamp
        return _EPOCH_UTC + (value - _EPOCH) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise CoercionError("empty string is not a timestamp")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise CoercionError(f"{_describe(value)} is not an ISO-8601 timestamp") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if isinstance(value, bool):
        raise CoercionError(f"{_describe(value)} is not a timestamp")
    if isinstance(value, int | float | Int64 | Decimal128):
        number = float(value.to_decimal()) if isinstance(value, Decimal128) else float(value)
        if not math.isfinite(number):
            raise CoercionError(f"{_describe(value)} is not a timestamp")
        seconds = number / 1000 if abs(number) >= EPOCH_MS_THRESHOLD else number
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise CoercionError(f"{_describe(value)} is out of the timestamp range") from None
    if isinstance(value, datetime):  # datetime subclasses
        return to_datetime(datetime.fromisoformat(value.isoformat()))
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise CoercionError(f"{type(value).__name__} {_describe(value)} is not a timestamp")


def to_date(value: Any) -> date | None:
    """A calendar day: a BSON date (its UTC day), or an ISO date or timestamp string, whose day
    is taken as written: "2026-12-05T01:10:00+03:00" is the 5th, the local day of that clock."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = to_datetime(value)
        assert moment is not None
        return moment.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return (
                date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
            )
        except ValueError:
            raise CoercionError(f"{_describe(value)} is not an ISO-8601 date") from None
    raise CoercionError(f"{type(value).__name__} {_describe(value)} is not a date")


def to_decimal(value: Any) -> Decimal | None:
    """Money: Decimal128, int, float or numeric string → Decimal (finite)."""
    if value is None:
        return None
    if isinstance(value, Decimal128):
        result = value.to_decimal()
    elif isinstance(value, bool):
        raise CoercionError(f"{_describe(value)} is not a number")
    elif isinstance(value, int | Int64):
        return Decimal(int(value))
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise CoercionError(f"{_describe(value)} is not a number") from None
    else:
        raise CoercionError(f"{type(value).__name__} {_describe(value)} is not a number")
    if not result.is_finite():
        raise CoercionError(f"{_describe(value)} is not a finite number")
    return result


def to_id(value: Any) -> str | None:
    """Ids: ObjectId, UUID, int or string → text (strings stripped; empty is an error)."""
    if value is None:
        return None
    if type(value) is str:
        text = value.strip()
        if not text:
            raise CoercionError("empty string is not an id")
        return text
    if isinstance(value, ObjectId | uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        raise CoercionError(f"{_describe(value)} is not an id")
    if isinstance(value, int | Int64):
        return str(int(value))
    if isinstance(value, bytes) and len(value) == 16:  # legacy binary UUIDs
        return str(uuid.UUID(bytes=value))
    raise CoercionError(f"{type(value).__name__} {_describe(value)} is not an id")


def to_int(value: Any) -> int | None:
    """Integers: int, integral float, Int64, Decimal128 or numeric string."""
    if value is None:
        return None
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise CoercionError(f"{_describe(value)} is not an integer")
    number = to_decimal(value)
    assert number is not None
    if number != number.to_integral_value():
        raise CoercionError(f"{_describe(value)} is not a whole number")
    return int(number)


def to_float(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) is float:
        if not math.isfinite(value):
            raise CoercionError(f"{_describe(value)} is not a finite number")
        return value
    number = to_decimal(value)
    assert number is not None
    return float(number)


def to_text(value: Any) -> str | None:
    """Text: strings as they are; numbers and ids rendered; containers are an error."""
    if value is None:
        return None
    if type(value) is str:
        return value
    if isinstance(value, dict | list | tuple | bytes):
        raise CoercionError(f"{type(value).__name__} is not text")
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    return str(value)


def to_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise CoercionError(f"{_describe(value)} is not a boolean")


def to_json(value: Any) -> Any:
    """A free-form value → plain JSON types (for JSONB): BSON types rendered readably."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return to_datetime(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, Decimal):
        return str(value)
    return str(value)
