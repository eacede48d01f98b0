"""What a table asset reads from its collection, and what it assumes about the cursor field.

The incremental contract: a source sets the cursor field (`updated_at`) to a BSON date no later
than the moment the write becomes visible, and never lowers it. Then "documents whose (cursor,
_id) is after the watermark" is exactly "documents changed since the last run". Sources break
that; what the engine does then:

- a cursor that is missing, null or not a BSON date (an ISO string, an epoch number) cannot be
  compared with a watermark: such documents are read by *every* run (the hash skip makes an
  unchanged one cost a lookup) and counted as cursor anomalies;
- a cursor in the future (after the run's start) is read by every run too, and never moves the
  watermark, which stays at or before the run's start: a clock running ahead cannot hide the
  documents written after it;
- a document updated with a cursor value lower than the watermark (a clock running behind) is
  missed until `--full-refresh`; this is the one assumption the engine cannot check.

One query covers the three cases, ordered by (cursor, _id): MongoDB sorts non-dates before
dates, so the watermark (etl.engine.run.runner) only ever advances over real dates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from etl.engine.values.identity import source_key
from etl.engine.values.raw import SourceDocument, date_millis, millis
from etl.engine.values.watermark import Watermark
from etl.services.mongo import READ_BATCH

log = logging.getLogger(__name__)


def run_bound(now: datetime | None = None) -> datetime:
    """The latest cursor value a run may take as its watermark: its start, naive UTC (as
    pymongo decodes dates here), in milliseconds (MongoDB's precision)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def changed_filter(cursor: str, since: Watermark | None) -> dict[str, Any]:
    """Documents after the watermark, plus every cursor anomaly.

    Dates after the run's start (the future) are after the watermark too, since the watermark
    never passes a run's start; the runner keeps them from moving it (`is_anomaly`).
    """
    if since is None or since.cursor_value is None:
        return {}
    value = since.cursor_value.astimezone(UTC).replace(tzinfo=None)
    # "not <= the mark" is every later date AND every missing, null or non-date cursor (type
    # bracketing: $lte against a date matches dates only): one clause for both cases
    return {
        "$or": [
            {cursor: {"$not": {"$lte": value}}},
            {cursor: value, "_id": {"$gt": since.last_id}},  # equal cursors: the _id tie-break
        ]
    }


def read_changed(
    collection: Any, cursor: str, since: Watermark | None
) -> tuple[Iterator[SourceDocument], int | None]:
    """Changed documents and cursor anomalies in (cursor, _id) order, as raw BSON
    (`collection` is opened with etl.services.mongo.RAW_OPTIONS), and how many when that is
    cheap to know: a read of everything (first load, full refresh) counts for its progress
    bar from the collection's metadata; an incremental read does not (the server would
    evaluate the filter twice)."""
    query = changed_filter(cursor, since)
    if query:
        warn_without_cursor_index(collection, cursor)
    total = None if query else collection.estimated_document_count()
    found = collection.find(query, batch_size=READ_BATCH).sort([(cursor, 1), ("_id", 1)])
    return iter(found), total


def warn_without_cursor_index(collection: Any, cursor: str) -> bool:
    """Log a warning when no index serves an incremental read (`cursor`, `_id`); returns
    whether one does. The loader only reads (its MongoDB user may not create indexes, and
    building one on a live collection is the owner's decision): the writers create it
    (`generator`, `ingest`), and without it every incremental read scans the collection."""
    try:
        keys = [list(ix["key"].items()) for ix in collection.list_indexes()]
    except Exception:  # not allowed to list them: nothing to say
        return True
    if any([k for k, _ in key[:2]] == [cursor, "_id"] for key in keys):
        return True
    if collection.full_name not in _warned:
        _warned.add(collection.full_name)
        log.warning(
            "%s has no index on (%s, _id): every incremental read scans the whole collection; "
            "create it with db.%s.createIndex({%s: 1, _id: 1})",
            collection.full_name, cursor, collection.name, cursor,
        )  # fmt: skip
    return False


_warned: set[str] = set()


def is_anomaly(value: Any, bound: datetime) -> bool:
    """A cursor value the watermark cannot cover: not a date, or after the run's start."""
    if type(value) is not datetime:
        return True
    return (value if value.tzinfo is None else value.replace(tzinfo=None)) > bound


def count_anomalies(
    docs: Sequence[SourceDocument], cursor: str, bound: datetime, *, cursor_ordered: bool
) -> int:
    """How many of `docs` are cursor anomalies (`is_anomaly`), read from the documents' bytes.

    `cursor_ordered`: the documents come in (cursor, `_id`) order, as `read_changed` returns
    them. MongoDB sorts every non-date before the dates and dates in the future after the
    others, so the anomalies of such a batch are a prefix and a suffix around one run of
    ordinary dates: counting them looks at the anomalies and one document on either side, not
    at every document (an unchanged re-read then costs no per-document cursor look-up). A
    document updated while the read ran can be returned out of order; if it became an
    anomaly it may go uncounted in this run, and is read (and counted) by the next.
    """
    limit = millis(bound)

    def anomalous(doc: SourceDocument) -> bool:
        value = date_millis(doc, cursor)
        return value is None or value > limit

    if not cursor_ordered:
        return sum(map(anomalous, docs))
    first = next((i for i, doc in enumerate(docs) if not anomalous(doc)), None)
    if first is None:
        return len(docs)
    last = next(i for i in range(len(docs) - 1, first - 1, -1) if not anomalous(docs[i]))
    return first + (len(docs) - 1 - last)


def present_source_ids(collection: Any) -> Iterator[str]:
    """Every document's `source_id`, from an `_id`-only scan (served by the `_id` index)."""
    for doc in collection.find({}, {"_id": 1}, batch_size=READ_BATCH):
        yield source_key(doc["_id"])
