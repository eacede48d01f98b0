"""Builders of one realistic document per collection, as the live site would store it.

BSON-native values: naive UTC datetimes (ms precision), Decimal128 money, nested objects.
Every document carries `updated_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128

from generator.shop.pools import CATEGORIES, CURRENCIES, DEVICES, World, ms

ACTIONS = ("view", "click", "add_to_cart", "remove_from_cart", "search", "checkout", "purchase")
EVENTS = ("login", "logout", "error", "click", "view", "purchase", "add_to_cart", "search")
ISSUES = ("payment", "delivery", "account", "product", "refund", "technical")
FLAGS = ("spam", "offensive", "off_topic", "fake")

Doc = dict[str, Any]


def money(value: float) -> Decimal128:
    return Decimal128(Decimal(f"{value:.2f}"))


def user_session(w: World, n: int) -> Doc:
    start = w.moment()
    end = ms(start + timedelta(seconds=w.rng.randint(30, 90 * 60)))
    kind = w.rng.choices(list(DEVICES), weights=(5, 8, 2))[0]
    os_name, browser = w.rng.choice(DEVICES[kind])
    pages = ["/"] + [
        f"/product/{w.product()}" if w.rng.random() < 0.6 else f"/c/{w.rng.choice(CATEGORIES)}"
        for _ in range(w.rng.randint(0, 7))
    ]
    span = (end - start).total_seconds()
    times = sorted(w.rng.uniform(0, span) for _ in range(w.rng.randint(0, 6)))
    actions = [
        {
            "type": w.rng.choice(ACTIONS),
            "target": w.product(),
            "time": ms(start + timedelta(seconds=t)),
        }
        for t in times
    ]
    return {
        "session_id": f"sess_{n:08d}",
        "user_id": w.user(),
        "start_time": start,
        "end_time": end,
        "pages_visited": pages,
        "device": {"type": kind, "os": os_name, "browser": browser},
        "actions": actions,
        "updated_at": end,
    }


def price_history(w: World, product_id: str) -> Doc:
    price = w.rng.uniform(5, 500)
    first = w.moment()
    changes = []
    when = first
    for _ in range(w.rng.randint(1, 6)):
        changes.append({"date": when, "price": money(price)})
        price = max(1.0, price * w.rng.uniform(0.8, 1.2))
        when = ms(when + timedelta(hours=w.rng.uniform(6, 24 * 10)))
        if when > w.now:
            break
    return {
        "product_id": product_id,
        "price_changes": changes,
        "current_price": changes[-1]["price"],
        "currency": w.rng.choice(CURRENCIES),
        "updated_at": changes[-1]["date"],
    }


def event_log(w: World, n: int) -> Doc:
    kind = w.rng.choice(EVENTS)
    details: dict[str, Any] = {"page": f"/product/{w.product()}"}
    if kind == "error":
        details = {"code": w.rng.choice((400, 404, 500, 502)), "message": w.fake.sentence(4)}
    elif kind == "click":
        details = {"element": w.rng.choice(("buy", "banner", "filter", "logo")), **details}
    elif kind == "search":
        details = {"query": w.fake.word()}
    when = w.moment()
    return {
        "event_id": f"evt_{n:09d}",
        "timestamp": when,
        "event_type": kind,
        "user_id": None if w.rng.random() < 0.15 else w.user(),
        "details": details,
        "updated_at": when,
    }


def support_ticket(w: World, n: int, user_id: str) -> Doc:
    created = w.moment()
    messages = [{"sender": "user", "text": w.fake.sentence(8), "sent_at": created}]
    history = [{"status": "open", "changed_at": created}]
    when = created
    for _ in range(w.rng.randint(0, 4)):
        later = ms(when + timedelta(minutes=w.rng.randint(5, 24 * 60)))
        if later > w.now:  # the site has not lived that moment yet
            break
        when = later
        sender = "agent" if messages[-1]["sender"] == "user" else "user"
        messages.append({"sender": sender, "text": w.fake.sentence(8), "sent_at": when})
    status = w.rng.choices(("open", "pending", "closed"), weights=(2, 2, 5))[0]
    if status != "open":
        history.append({"status": status, "changed_at": when})
    return {
        "ticket_id": f"T{n:07d}",
        "user_id": user_id,
        "status": status,
        "issue_type": w.rng.choice(ISSUES),
        "messages": messages,
        "status_history": history,
        "created_at": created,
        "updated_at": when,
    }


def recommendations(w: World, user_id: str, when: datetime | None = None) -> Doc:
    when = when or w.moment(7)
    picks = w.rng.sample(w.products, k=min(len(w.products), w.rng.randint(3, 8)))
    scores = sorted((round(w.rng.random(), 4) for _ in picks), reverse=True)
    return {
        "user_id": user_id,
        "recommended_products": [
            {"product_id": p, "score": s} for p, s in zip(picks, scores, strict=True)
        ],
        "last_updated": when,
        "updated_at": when,
    }


def review(w: World, n: int, user_id: str) -> Doc:
    submitted = w.moment()
    status = w.rng.choices(("pending", "approved", "rejected"), weights=(3, 6, 1))[0]
    flags = w.rng.sample(FLAGS, k=w.rng.choice((0, 0, 0, 1, 2)))
    return {
        "review_id": f"R{n:07d}",
        "user_id": user_id,
        "product_id": w.product(),
        "review_text": w.fake.paragraph(2),
        "rating": w.rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 5))[0],
        "moderation_status": status,
        "flags": flags,
        "submitted_at": submitted,
        "updated_at": submitted,
    }


def search_query(w: World, n: int) -> Doc:
    when = w.moment()
    filters: dict[str, Any] = {}
    if w.rng.random() < 0.6:
        filters["category"] = w.rng.choice(CATEGORIES)
    if w.rng.random() < 0.4:
        filters["price_max"] = w.rng.choice((50, 100, 200, 500))
    if w.rng.random() < 0.3:
        filters["in_stock"] = True
    return {
        "query_id": f"Q{n:08d}",
        "user_id": None if w.rng.random() < 0.2 else w.user(),
        "query_text": w.search_term(),
        "timestamp": when,
        "filters": filters,
        "results_count": 0 if w.rng.random() < 0.1 else w.rng.randint(1, 400),
        "updated_at": when,
    }
