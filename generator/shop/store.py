"""Writing to the RAW database: batched inserts, indexes, per-collection counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from generator.shop.build import build_documents
from generator.shop.faults import KEYS
from generator.shop.pools import REFERENCE_NOW

Progress = Callable[[str, int, int], None]
"""(collection, written so far, total) — drives the CLI's progress bar."""


def ensure_indexes(db: Any) -> None:
    """What the loader's incremental reads and the live updates look documents up by."""
    for name, key in KEYS.items():
        db[name].create_index([("updated_at", 1), ("_id", 1)])
        db[name].create_index(key)


def write_once(
    db: Any,
    scale: int,
    seed: int = 42,
    dirty: float = 0.0,
    *,
    drop: bool = False,
    batch_size: int = 5000,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Write a deterministic history into `db` (ending at `now`, default the fixed reference
    moment); returns documents written per collection."""
    collections = build_documents(scale, seed, dirty, now or REFERENCE_NOW)
    if drop:
        for name in collections:
            db.drop_collection(name)
    ensure_indexes(db)
    written: dict[str, int] = {}
    for name, docs in collections.items():
        for start in range(0, len(docs), batch_size):
            db[name].insert_many(docs[start : start + batch_size])
            written[name] = min(len(docs), start + batch_size)
            if progress:
                progress(name, written[name], len(docs))
        written.setdefault(name, 0)
    return written
