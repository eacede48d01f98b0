"""Helpers for the adversarial loading tests: extreme BSON values and a verdict per document.

`verdicts()` is the contract in one function: every document inserted is either loaded exactly
(the parent row in PostgreSQL equals what the transform makes of the document as read back, and
the child tables hold as many rows as it made) or rejected with at least one reason.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import bson
import psycopg
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from psycopg import sql

from etl.engine import Doc, TableAsset
from etl.engine.declare.assets import qualified_name
from etl.engine.values.identity import source_key
from etl.services.mongo import read_collection

EXTREME_VALUES: list[Any] = [
    None,
    "",
    " ",
    "\x00",
    "U\x00bad",
    "RUB\n",
    "RU",
    "x" * 3000,
    "é\u2028😀",
    "2026-11-01T12:00:00",
    "1e400",
    "NaN",
    True,
    False,
    0,
    -1,
    2**31,
    -(2**31) - 1,
    Int64(2**63 - 1),
    Int64(-(2**63)),
    float("nan"),
    float("inf"),
    float("-inf"),
    -0.0,
    1e308,
    5e-324,
    19.999,
    Decimal128("19.999"),
    Decimal128("99999999999.99"),
    Decimal128("1E+6000"),
    Decimal128("NaN"),
    Decimal128("-Infinity"),
    Decimal128("-0.00"),
    datetime(1, 1, 1),
    datetime(9999, 12, 31, 23, 59, 59, 999000),
    datetime(1969, 12, 31, 23, 59, 59),
    DatetimeMS(2**62),
    DatetimeMS(-(2**62)),
    ObjectId(),
    uuid.UUID(int=7),
    Binary(b"\x00\xff\xfe", 0),
    Regex("^a", "i"),
    Code("function () {}"),
    Timestamp(0, 0),
    MinKey(),
    MaxKey(),
    [],
    [None, 1, "a", {"k": float("nan")}],
    [{"type": "bogus", "time": "yesterday"}],
    {},
    {"nested": {"deep": [1, {"x": None, "nul": "a\x00b"}]}},
    {"big": Int64(2**63 - 1), "nan": float("nan")},
]


def paths(value: Any, prefix: str = "") -> list[str]:
    """Every field path of a document (dotted, array positions as numbers), except `_id`."""
    out: list[str] = []
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return out
    for key, child in items:
        if not prefix and key == "_id":
            continue
        path = f"{prefix}{key}"
        out.append(path)
        out.extend(paths(child, f"{path}."))
    return out


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` (as from `paths`) in `doc` to `value`, in place."""
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


def verdicts(
    conn: psycopg.Connection, mongo: Any, asset: TableAsset, ids: list[Any]
) -> dict[str, str]:
    """'loaded' or 'rejected' per document `_id` (as source_id); raises if one is neither, or
    if a loaded row differs from what the transform makes of the stored document."""
    parent = asset.parent
    table = sql.Identifier(*qualified_name(parent).split("."))
    out: dict[str, str] = {}
    collection = read_collection(mongo, asset.source)
    for _id in ids:
        sid = source_key(_id)
        raw = collection.find_one({"_id": _id})
        assert raw is not None, f"{asset.name}: document {sid} vanished from MongoDB"
        produced = asset.transform(Doc(raw))
        expected = produced[parent]
        assert isinstance(expected, dict)
        columns = [c for c in expected if c in parent.model_fields]
        with conn.cursor() as cur:
            row = cur.execute(
                sql.SQL("SELECT {} FROM {} WHERE source_id = %s").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), table
                ),
                [sid],
            ).fetchone()
        rejected = conn.execute(
            "SELECT reasons FROM etl.rejects WHERE asset = %s AND source_id = %s",
            [asset.name, sid],
        ).fetchall()
        if row is None:
            assert rejected, f"{asset.name}: document {sid} was neither loaded nor rejected"
            assert all(reasons for (reasons,) in rejected), f"{sid}: a reject without reasons"
            out[sid] = "rejected"
            continue
        for column, stored in zip(columns, row, strict=True):
            assert same_value(stored, expected[column]), (
                f"{asset.name}.{column} of {sid}: stored {stored!r}, "
                f"the document says {expected[column]!r}"
            )
        for child in asset.children:
            made = produced.get(child) or []
            assert isinstance(made, list)
            fk = next(iter(child.__table__.foreign_keys))  # type: ignore[attr-defined]
            child_table = sql.Identifier(*qualified_name(child).split("."))
            (count,) = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                    child_table, sql.Identifier(fk.parent.name)
                ),
                [expected[fk.column.name]],
            ).fetchone() or (0,)
            assert count == len(made), f"{asset.name}: {child.__name__} rows of {sid}"
        out[sid] = "loaded"
    return out


def same_value(stored: Any, expected: Any) -> bool:
    """Equal as stored: exact for numbers and text, instants compared as instants; inside JSON
    a float equals the number its shortest repr writes (jsonb keeps `1e+308` as 10**308)."""
    if isinstance(stored, dict) and isinstance(expected, dict):
        return stored.keys() == expected.keys() and all(
            same_value(stored[k], expected[k]) for k in stored
        )
    if isinstance(stored, list) and isinstance(expected, list):
        return len(stored) == len(expected) and all(map(same_value, stored, expected))
    if isinstance(stored, bool) or isinstance(expected, bool):
        return stored is expected
    if isinstance(stored, float) or isinstance(expected, float):
        return isinstance(stored, int | float) and float(stored) == float(expected)
    if isinstance(stored, Decimal) or isinstance(expected, Decimal):
        return Decimal(str(stored)) == Decimal(str(expected))
    return bool(stored == expected)


def encodable(doc: dict[str, Any]) -> bool:
    """Whether MongoDB could hold `doc` at all (the driver refuses some Python values)."""
    try:
        bson.encode(doc)
    except Exception:
        return False
    return True
