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

Boundaries come from the server (`$bucketAuto` over the `_id`s of type T), so planning a split reads
no document into this process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from etl.engine.declare.context import RunContext
from etl.engine.values.bson import BRACKETS
from etl.engine.values.ranges import IdRange, RangeSource, ranges_from_boundaries
from etl.engine.values.raw import SourceDocument
from etl.engine.values.watermark import Watermark
from etl.services.mongo import READ_BATCH, raw_collection, read_collection


class MongoRanges:
    """`RangeSource` over a pymongo database; ranges are read as raw BSON
    (etl.engine.values.raw)."""

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


def ranges_of(ctx: RunContext) -> RangeSource:
    """Where a run's partitioned snapshots split and read collections: what the run was given
    (benchmarks), else its MongoDB."""
    return ctx.range_source or MongoRanges(ctx.mongo)
