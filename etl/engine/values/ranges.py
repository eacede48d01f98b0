"""`_id` ranges of a collection, and the protocol of a source that splits and reads them.

A range is `lower` inclusive, `upper` exclusive, in one BSON type bracket
(etl.engine.snapshots.mongo_ranges explains why range 0 also holds every other type).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from etl.engine.values.raw import SourceDocument
from etl.engine.values.watermark import Watermark


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
