"""Splitting a collection into `_id` ranges of about equal size, and reading one range.

Why `_id`: it is the one field every document has, it is indexed, and it never changes, so a
range read now and resumed later covers the same documents (a cursor field would move).

MongoDB compares values of one BSON type only (type bracketing: `{_id: {$gte: ObjectId(..)}}`
never matches a string `_id`). So the boundaries are values of ONE type, T (the type of most
`_id`s), and range 0 is "everything not >= the first boundary": `_id`s of every other type land
there, so the ranges cover the collection whatever its `_id`s are, and never overlap:

    range 0      : NOT (_id >= b1)
    range i      : _id >= b_i AND NOT (_id >= b_(i+1))
    range K-1    : _id >= b_(K-1)

Boundaries come from the server (`$bucketAuto` over the `_id`s of type T), so planning a split
reads no document into this process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from etl.engine.profile import bson_type
from etl.engine.raw import SourceDocument
from etl.engine.state import Watermark
from etl.services.mongo import READ_BATCH, raw_collection, read_collection

BRACKETS = {
    "objectId": "objectId",
    "string": "string",
    "int": "number",
    "long": "number",
    "double": "number",
    "date": "date",
}
"""BSON types (etl.engine.profile.bson_type) whose Python ordering is MongoDB's within their
bracket, with the bracket's `$type` alias: the types a range boundary may have."""


@dataclass(frozen=True)
class IdRange:
    """One range: `lower` inclusive, `upper` exclusive; None = unbounded. `expected`: the
    documents counted in it when it was planned (for progress; the collection may change)."""

    index: int
    lower: Any = None
    upper: Any = None
    expected: int | None = None

    def query(self, after: tuple[Any] | None = None) -> dict[str, Any]:
        """The range's filter; `after` = (last `_id` loaded,) to resume after it."""
        clauses: list[dict[str, Any]] = []
        if self.lower is not None:
            clauses.append({"_id": {"$gte": self.lower}})
        if self.upper is not None:
            clauses.append({"_id": {"$not": {"$gte": self.upper}}})
        if after is not None:
            # "not <= the checkpoint": later values of its type and every value of another
            # type (re-read; the hash skip makes a document loaded before cost a lookup)
            clauses.append({"_id": {"$not": {"$lte": after[0]}}})
        if not clauses:
            return {}
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def bracket(value: Any) -> str | None:
    """The `$type` alias of an orderable `_id` (None: not usable as a boundary)."""
    if isinstance(value, float) and value != value:  # NaN sorts apart from the numbers
        return None
    return BRACKETS.get(bson_type(value))


def ranges_from_boundaries(boundaries: list[Any], counts: list[int] | None = None) -> list[IdRange]:
    """K-1 increasing boundaries of one type -> K ranges (see the module docstring)."""
    edges: list[Any] = [None, *boundaries, None]
    return [
        IdRange(i, edges[i], edges[i + 1], counts[i] if counts else None)
        for i in range(len(edges) - 1)
    ]


class RangeSource(Protocol):
    """Where a partitioned snapshot reads: split a collection, read one range in `_id` order."""

    def split(self, collection: str, parts: int) -> list[IdRange]: ...

    def read(
        self, collection: str, id_range: IdRange, after: tuple[Any] | None
    ) -> Iterator[SourceDocument]: ...

    def ids(self, collection: str) -> Iterator[Any]:
        """Every `_id` now in the collection (deletes detection after the snapshot)."""
        ...

    def find_ids(self, collection: str, ids: list[Any]) -> Iterator[SourceDocument]:
        """The documents with these `_id`s (those that still exist)."""
        ...

    def high_water(self, collection: str, cursor: str, bound: datetime) -> Watermark | None:
        """The last (cursor, `_id`) in (cursor, `_id`) order among documents whose cursor is a
        date up to `bound`: where a single reader of the whole collection would stop."""
        ...


class MongoRanges:
    """`RangeSource` over a pymongo database; ranges are read as raw BSON (etl.engine.raw)."""

    def __init__(self, database: Any) -> None:
        self.database = database

    def split(self, collection: str, parts: int) -> list[IdRange]:
        coll = read_collection(self.database, collection)
        if parts <= 1:
            return [IdRange(0, expected=coll.count_documents({}))]
        return self._buckets(coll, parts)

    def _buckets(self, coll: Any, parts: int) -> list[IdRange]:
        """`$bucketAuto` over the `_id`s of the orderable type most `_id`s have (ObjectId,
        usually); counting each type is an index range on the server."""
        by_kind = {
            kind: coll.count_documents({"_id": {"$type": kind}})
            for kind in dict.fromkeys(BRACKETS.values())
        }
        kind = max(by_kind, key=lambda k: by_kind[k])
        if by_kind[kind] == 0:
            return [IdRange(0, expected=coll.count_documents({}))]
        buckets = list(
            coll.aggregate(
                [
                    {"$match": {"_id": {"$type": kind}}},
                    {"$bucketAuto": {"groupBy": "$_id", "buckets": parts}},
                ],
                allowDiskUse=True,
            )
        )
        boundaries = [b["_id"]["min"] for b in buckets[1:]]
        counts = [int(b["count"]) for b in buckets]
        if counts:  # _ids of other types (and NaN) are read by range 0
            counts[0] += coll.count_documents({"_id": {"$not": {"$type": kind}}})
        return ranges_from_boundaries(boundaries, counts or None)

    def read(
        self, collection: str, id_range: IdRange, after: tuple[Any] | None
    ) -> Iterator[SourceDocument]:
        coll = raw_collection(self.database, collection)
        found = coll.find(id_range.query(after), batch_size=READ_BATCH).sort("_id", 1)
        return iter(found)

    def ids(self, collection: str) -> Iterator[Any]:
        coll = read_collection(self.database, collection)
        for doc in coll.find({}, {"_id": 1}, batch_size=READ_BATCH):
            yield doc["_id"]

    def high_water(self, collection: str, cursor: str, bound: datetime) -> Watermark | None:
        coll = read_collection(self.database, collection)
        # $lte against a date matches dates only (type bracketing): strings, nulls are skipped
        top = coll.find({cursor: {"$lte": bound}}).sort([(cursor, -1), ("_id", -1)]).limit(1)
        doc = next(iter(top), None)
        value = doc.get(cursor) if doc else None
        return Watermark(value, doc["_id"]) if doc and isinstance(value, datetime) else None

    def find_ids(self, collection: str, ids: list[Any]) -> Iterator[SourceDocument]:
        coll = raw_collection(self.database, collection)
        return iter(coll.find({"_id": {"$in": ids}}))
