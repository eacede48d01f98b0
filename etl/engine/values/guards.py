"""What PostgreSQL would refuse or silently alter, caught in Python from the column types.

A row value that the database cannot store *exactly* must reject its document with a reason that
names the column, before any COPY: a refusal inside COPY costs a bisection, and some alterations
are silent (PostgreSQL cuts `'RUB '` to `char(3)` and rounds `19.999` into `numeric(12,2)`).
Each guard is compiled once per table from its SQLAlchemy columns:

- integers must fit the column's width (smallint, integer, bigint);
- `char(n)` / `varchar(n)` values must have at most n characters (no silent cut);
- NUMERIC(p, s) values must have at most s decimals and p - s integer digits (no rounding);
- text may not contain NUL or lone surrogates (invalid UTF-8 from the source);
- a text column in an index or key may not exceed `MAX_INDEXED_BYTES` (btree entry limit);
- JSONB values must serialise without NaN/Infinity, NUL or lone surrogates (PostgreSQL's jsonb
  cannot hold them).

Bisection on database refusals (etl.engine.load.loader) stays the last line of defence for rules
only the database knows."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

MAX_INDEXED_BYTES = 2000
"""PostgreSQL refuses btree entries over ~2,700 bytes; keys and indexed text stay below."""

INT_BOUNDS = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


Guard = Callable[[dict[str, Any], list[str]], None]


def compile_guards(table: sa.Table, skip: set[str | None]) -> list[Guard]:
    """One guard per column that can hold a value PostgreSQL would refuse or alter."""
    indexed = _indexed_columns(table)
    guards: list[Guard] = []
    texts: list[tuple[str, int | None, int | None]] = []
    for column in table.columns:
        if column.name in skip:
            continue
        if isinstance(column.type, sa.String) and not isinstance(column.type, JSONB):
            length = getattr(column.type, "length", None)
            texts.append(
                (column.name, length, MAX_INDEXED_BYTES if column.name in indexed else None)
            )
            continue
        guard = _guard_for(column)
        if guard is not None:
            guards.append(guard)
    if texts:
        guards.append(_text_guard(tuple(texts)))
    return guards


def _indexed_columns(table: sa.Table) -> set[str]:
    names = {c.name for c in table.primary_key.columns}
    for index in table.indexes:
        names.update(c.name for c in index.columns)
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            names.update(c.name for c in constraint.columns)
    names.update(c.name for c in table.columns if c.unique or c.index)
    return names


def _guard_for(column: sa.Column[Any]) -> Guard | None:
    kind = column.type
    name = column.name
    if isinstance(kind, JSONB):
        return _json_guard(name)
    if isinstance(kind, sa.Integer):
        width = (
            "bigint"
            if isinstance(kind, sa.BigInteger)
            else "smallint"
            if isinstance(kind, sa.SmallInteger)
            else "integer"
        )
        return _int_guard(name, width)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        if kind.precision is not None:
            return _numeric_guard(name, kind.precision, kind.scale or 0)
        return None
    return None


def _int_guard(name: str, width: str) -> Guard:
    low, high = INT_BOUNDS[width]

    def guard(row: dict[str, Any], errors: list[str]) -> None:
        value = row.get(name)
        if type(value) is int and not low <= value <= high:
            errors.append(f"{name}: {_short(value)} does not fit a {width} column")

    return guard


def _numeric_guard(name: str, precision: int, scale: int) -> Guard:
    limit = Decimal(10) ** (precision - scale)

    def guard(row: dict[str, Any], errors: list[str]) -> None:
        value = row.get(name)
        if value is None:
            return
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite() or abs(number) >= limit:
            errors.append(f"{name}: {_short(value)} does not fit numeric({precision},{scale})")
            return
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -scale and number != round(number, scale):
            errors.append(
                f"{name}: {_short(value)} has more than {scale} decimals "
                f"(numeric({precision},{scale}) would round it)"
            )

    return guard


def _text_guard(columns: tuple[tuple[str, int | None, int | None], ...]) -> Guard:
    """One guard for all text columns of a table (Text, VARCHAR, CHAR, SQLModel's AutoString):
    a row costs one call, and a plain ASCII value two C-level checks."""

    def guard(row: dict[str, Any], errors: list[str]) -> None:
        for name, length, max_bytes in columns:
            value = row.get(name)
            if value.__class__ is not str:
                continue
            if "\x00" in value or not value.isascii():
                problem = text_problem(value)
                if problem:
                    errors.append(f"{name}: {problem}")
                    continue
            if length is not None and len(value) > length:
                errors.append(f"{name}: {_short(value)} is longer than {length} characters")
            elif max_bytes is not None and len(value) * 4 > max_bytes:
                size = len(value.encode("utf-8"))
                if size > max_bytes:
                    errors.append(
                        f"{name}: {size} bytes is too long for an indexed column "
                        f"(at most {max_bytes})"
                    )

    return guard


def _json_guard(name: str) -> Guard:
    def guard(row: dict[str, Any], errors: list[str]) -> None:
        value = row.get(name)
        if value is None:
            return
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
        except ValueError as exc:  # NaN/Infinity, an int past the conversion limit
            errors.append(f"{name}: {_json_reason(exc)}")
            return
        except RecursionError:
            errors.append(f"{name}: nested too deeply for JSON")
            return
        if "\\u0000" in text and _JSON_NUL.search(text):
            errors.append(f"{name}: contains a NUL character (jsonb cannot store it)")
            return
        if not text.isascii() and text_problem(text):
            errors.append(f"{name}: contains invalid UTF-8 (a lone surrogate)")

    return guard


def text_problem(value: str) -> str | None:
    """Why PostgreSQL text cannot hold `value` exactly, or None."""
    if "\x00" in value:
        return "contains a NUL character (PostgreSQL text cannot store it)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains invalid UTF-8 (a lone surrogate)"
    return None


def _json_reason(exc: ValueError) -> str:
    message = str(exc)
    if "compliant" in message:
        return "NaN or Infinity is not valid JSON"
    return message.split("\n")[0][:120]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
