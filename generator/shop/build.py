"""A whole deterministic history: same (scale, seed, dirty) → the same documents."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from generator.shop import documents as d
from generator.shop.faults import KEYS, applicable, apply_fault
from generator.shop.pools import REFERENCE_NOW, World

COLLECTIONS = tuple(KEYS)


def build_documents(
    scale: int, seed: int = 42, dirty: float = 0.0, now: datetime = REFERENCE_NOW
) -> dict[str, list[dict]]:
    """Collection name → documents. `scale` ≈ the number of user_sessions documents.

    The history ends at `now` (a fixed moment by default, so a seed always gives the same
    documents; the demo passes the current time so the shop and the fares share one clock)."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if not 0 <= dirty <= 1:
        raise ValueError("dirty must be between 0 and 1")
    w = World.create(scale, seed, now)
    sessions = [d.user_session(w, n) for n in range(scale)]
    active = sorted({s["user_id"] for s in sessions})  # users with sessions
    out: dict[str, list[dict[str, Any]]] = {
        "user_sessions": sessions,
        "product_price_history": [d.price_history(w, p) for p in w.products],
        "event_logs": [d.event_log(w, n) for n in range(scale)],
        "support_tickets": [
            d.support_ticket(w, n, w.rng.choice(active)) for n in range(max(1, scale // 10))
        ],
        "user_recommendations": [d.recommendations(w, u) for u in active],
        "moderation_queue": [
            d.review(w, n, w.rng.choice(active)) for n in range(max(1, scale // 5))
        ],
        "search_queries": [d.search_query(w, n) for n in range(scale)],
    }
    if dirty:
        damage(out, dirty, random.Random(seed * 7919 + 1))
    return out


def damage(collections: dict[str, list[dict[str, Any]]], dirty: float, rng: random.Random) -> None:
    """Give a fraction `dirty` of the documents one fault each (the kind chosen per document)."""
    for name, docs in collections.items():
        kinds = applicable(name)
        original_ids = [doc.get(KEYS[name]) for doc in docs]
        for i, doc in enumerate(docs):
            if rng.random() >= dirty:
                continue
            kind = kinds[i % len(kinds)] if dirty >= 1 else rng.choice(kinds)
            intact = (j for j in range(i - 1, -1, -1) if docs[j].get(KEYS[name]) == original_ids[j])
            other = original_ids[next(intact, i)] if i > 0 else None
            apply_fault(doc, kind, rng, name, other_id=other)
