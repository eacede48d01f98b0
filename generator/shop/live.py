"""The site going on: new documents, updates and deletes the way a real shop changes its data.

Tickets change status and gain messages, products get a new price (and current_price),
recommendations are refreshed, reviews get moderated and flagged — each bumping `updated_at`
strictly past its previous value, so an incremental reader sees every change. Some documents
go: a pending review withdrawn by its author, an event erased at a visitor's request (a reader
notices deletes by scanning `_id`s, or from a change stream).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from generator.shop import documents as d
from generator.shop.documents import money
from generator.shop.pools import World, ms

ACTIONS = ("new_session", "new_event", "new_search", "ticket", "price", "recommend", "moderate")
WEIGHTS = (4, 5, 4, 2, 2, 1, 2)
DELETE_SHARE = 0.1
"""Of the steps, about this share also deletes a document (drawn from a generator of its own,
so the inserts and updates of a seed stay what they were)."""


def _bump(previous: Any, now: datetime) -> datetime:
    if isinstance(previous, datetime) and previous >= now:
        return ms(previous + timedelta(milliseconds=1))
    return now


def _pick(db: Any, collection: str, query: dict[str, Any], rng: random.Random) -> Any:
    candidates = list(db[collection].find(query).limit(50))
    return rng.choice(candidates) if candidates else None


DRIFT_SHARE = 0.3


def live_updates(
    db: Any,
    steps: int,
    seed: int | None = None,
    now: datetime | None = None,
    drift: bool = False,
) -> dict[str, int]:
    """Apply `steps` live changes; returns how many inserts/updates/deletes each collection got.

    `drift`: the site changes shape, as real sources do: new events carry a field no transform
    reads (`client.app_version`), and a share of them have an integer `user_id` instead of a
    string (a type change the transform still coerces), so drift tracking has something to
    catch."""
    start = seed if seed is not None else random.randrange(2**31)
    w = World.create(500, start)
    deletes = random.Random(start ^ 0x5EED)
    counts: dict[str, int] = {}
    for _ in range(steps):
        at = ms(now or datetime.utcnow())
        w.now = at
        action = w.rng.choices(ACTIONS, weights=WEIGHTS)[0]
        done = [_step(db, w, action, at, drift)]
        if deletes.random() < DELETE_SHARE:
            done.append(_delete(db, deletes))
        for collection in filter(None, done):
            counts[collection] = counts.get(collection, 0) + 1
    return counts


def _delete(db: Any, rng: random.Random) -> str | None:
    """A pending review withdrawn by its author, or an event erased at a visitor's request."""
    if rng.random() < 0.5:
        review = _pick(db, "moderation_queue", {"moderation_status": "pending"}, rng)
        if review is None:
            return None
        db.moderation_queue.delete_one({"_id": review["_id"]})
        return "moderation_queue"
    event = _pick(db, "event_logs", {}, rng)
    if event is None:
        return None
    db.event_logs.delete_one({"_id": event["_id"]})
    return "event_logs"


def _new_id() -> int:
    return uuid.uuid4().int % 10**12


def _step(db: Any, w: World, action: str, at: datetime, drift: bool = False) -> str | None:
    rng = w.rng
    if action == "new_session":
        doc = d.user_session(w, _new_id())
        doc["start_time"], doc["end_time"] = ms(at - timedelta(minutes=5)), at
        doc["actions"] = [a | {"time": at} for a in doc["actions"]]
        db.user_sessions.insert_one(doc | {"updated_at": at})
        return "user_sessions"
    if action == "new_event":
        event = d.event_log(w, _new_id()) | {"timestamp": at, "updated_at": at}
        if drift:
            event["client"] = {"app_version": f"5.{rng.randint(0, 9)}"}
            if rng.random() < DRIFT_SHARE and isinstance(event.get("user_id"), str):
                event["user_id"] = int(event["user_id"].lstrip("U") or 0)
        db.event_logs.insert_one(event)
        return "event_logs"
    if action == "new_search":
        db.search_queries.insert_one(
            d.search_query(w, _new_id()) | {"timestamp": at, "updated_at": at}
        )
        return "search_queries"
    if action == "ticket":
        ticket = _pick(db, "support_tickets", {"status": {"$ne": "closed"}}, rng)
        if ticket is None:
            return None
        when = _bump(ticket.get("updated_at"), at)
        status = rng.choice(("pending", "closed"))
        db.support_tickets.update_one(
            {"_id": ticket["_id"]},
            {
                "$set": {"status": status, "updated_at": when},
                "$push": {
                    "messages": {"sender": "agent", "text": w.fake.sentence(6), "sent_at": when},
                    "status_history": {"status": status, "changed_at": when},
                },
            },
        )
        return "support_tickets"
    if action == "price":
        product = _pick(db, "product_price_history", {}, rng)
        if product is None:
            return None
        when = _bump(product.get("updated_at"), at)
        price = money(rng.uniform(5, 500))
        db.product_price_history.update_one(
            {"_id": product["_id"]},
            {
                "$set": {"current_price": price, "updated_at": when},
                "$push": {"price_changes": {"date": when, "price": price}},
            },
        )
        return "product_price_history"
    if action == "recommend":
        rec = _pick(db, "user_recommendations", {}, rng)
        products = [p["product_id"] for p in db.product_price_history.find({}).limit(200)]
        if rec is None or not products:
            return None
        when = _bump(rec.get("updated_at"), at)
        w.products = products
        fresh = d.recommendations(w, rec["user_id"], when)
        db.user_recommendations.update_one(
            {"_id": rec["_id"]},
            {"$set": {k: fresh[k] for k in ("recommended_products", "last_updated", "updated_at")}},
        )
        return "user_recommendations"
    review = _pick(db, "moderation_queue", {"moderation_status": "pending"}, rng)
    if review is None:
        return None
    when = _bump(review.get("updated_at"), at)
    change: dict[str, Any] = {
        "$set": {"moderation_status": rng.choice(("approved", "rejected")), "updated_at": when}
    }
    if rng.random() < 0.3:
        change["$push"] = {"flags": rng.choice(d.FLAGS)}
    db.moderation_queue.update_one({"_id": review["_id"]}, change)
    return "moderation_queue"
