"""The proxy's request log in MongoDB (the RAW layer of the aviasales domain).

One document per call made to the proxy, failures included:

    _id            ObjectId: the request id downstream
    endpoint       the API path called
    query          the parameters as the client sent them (a `token` parameter removed)
    request        the validated parameters; absent when the proxy refused the call (422)
    search_date    "YYYY-MM-DD": the day the search is made (an earlier day when backfilling)
    searched_at    the moment of the search: `requested_at`, moved to `search_date` if given
    requested_at   when the proxy received the call (UTC)
    upstream_url   the upstream URL with its parameters; the token travels in a header, never here
    status_code    the upstream's answer (the proxy's own 422 when refused; null if unreachable)
    attempts       upstream calls made (retries included; 0 when refused)
    latency_ms     from receiving the call to having the final answer
    response       the upstream's JSON body, unchanged; `response_text` when it is not JSON
    error          why the call failed, null when it did not
    updated_at     when the document was written: the loader's incremental cursor

Imported by the ETL asset that reads the collection, so it stays free of web frameworks.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

LOG_COLLECTION = "aviasales_requests"


def utc_now() -> datetime:
    """Naive UTC at millisecond precision: what BSON stores, so round trips compare equal."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def searched_at(requested_at: datetime, search_date: date | None) -> datetime:
    """A backfilled search happens on its simulated day, at the time of day it was made."""
    if search_date is None or search_date == requested_at.date():
        return requested_at
    return datetime.combine(search_date, requested_at.time())


def body_fields(content: bytes) -> dict[str, Any]:
    """The upstream body for the log: parsed JSON if it is a JSON object, else the raw text."""
    if not content:
        return {"response": None}
    try:
        parsed = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"response": None, "response_text": content.decode("utf-8", "replace")}
    if isinstance(parsed, dict):
        return {"response": parsed}
    return {"response": None, "response_text": content.decode("utf-8", "replace")}


def ensure_indexes(db: Any) -> None:
    """The loader's cursor, and what the backfill looks up to resume."""
    collection = db[LOG_COLLECTION]
    collection.create_index([("updated_at", 1), ("_id", 1)])
    collection.create_index([("search_date", 1), ("status_code", 1)])
