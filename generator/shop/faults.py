"""The faults real feeds have, applied to a fraction of documents by `--dirty P`.

Nothing in a document says it was damaged: the pipeline has to notice on its own (and put the
document in `etl.rejects` with its reasons, or, for a date sent as an ISO string, accept it).
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

FAULT_KINDS = (
    "missing_field",
    "date_as_string",
    "price_as_string",
    "rating_out_of_range",
    "null_id",
    "unknown_enum",
    "duplicate_id",
)

KEYS = {
    "user_sessions": "session_id",
    "product_price_history": "product_id",
    "event_logs": "event_id",
    "support_tickets": "ticket_id",
    "user_recommendations": "user_id",
    "moderation_queue": "review_id",
    "search_queries": "query_id",
}
REQUIRED = {
    "user_sessions": ("user_id", "start_time"),
    "product_price_history": ("currency", "current_price"),
    "event_logs": ("event_type", "timestamp"),
    "support_tickets": ("issue_type", "status", "created_at"),
    "user_recommendations": ("last_updated",),
    "moderation_queue": ("product_id", "rating", "submitted_at"),
    "search_queries": ("query_text", "results_count"),
}
DATES = {
    "user_sessions": "start_time",
    "product_price_history": "updated_at",
    "event_logs": "timestamp",
    "support_tickets": "created_at",
    "user_recommendations": "last_updated",
    "moderation_queue": "submitted_at",
    "search_queries": "timestamp",
}
UNKNOWN_ENUMS = {
    "event_logs": ("event_type", "teleport"),
    "support_tickets": ("status", "escalated"),
    "moderation_queue": ("moderation_status", "escalated"),
}


def applicable(collection: str) -> tuple[str, ...]:
    """The fault kinds that make sense for a collection."""
    kinds = ["missing_field", "date_as_string", "null_id", "duplicate_id"]
    if collection == "product_price_history":
        kinds.append("price_as_string")
    if collection == "moderation_queue":
        kinds.append("rating_out_of_range")
    if collection in UNKNOWN_ENUMS or collection == "user_sessions":
        kinds.append("unknown_enum")
    return tuple(kinds)


def apply_fault(
    doc: dict[str, Any], kind: str, rng: random.Random, collection: str, other_id: Any = None
) -> dict[str, Any]:
    """Damage `doc` in place with fault `kind`; `other_id` is the id a duplicate reuses."""
    key = KEYS[collection]
    if kind == "missing_field":
        doc.pop(rng.choice(REQUIRED[collection]), None)
    elif kind == "date_as_string":
        field = DATES[collection]
        if isinstance(doc.get(field), datetime):
            doc[field] = doc[field].isoformat() + "Z"
    elif kind == "price_as_string":
        doc["current_price"] = f"{rng.randint(1, 99)},{rng.randint(0, 99):02d} {doc['currency']}"
    elif kind == "rating_out_of_range":
        doc["rating"] = rng.choice((0, 6, 7, 10, -1))
    elif kind == "null_id":
        doc[key] = None
    elif kind == "unknown_enum":
        if collection == "user_sessions":
            doc["device"]["type"] = "smart-fridge"
        else:
            field, value = UNKNOWN_ENUMS[collection]
            doc[field] = value
    elif kind == "duplicate_id":
        if other_id is not None:
            doc[key] = other_id
    else:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    return doc
