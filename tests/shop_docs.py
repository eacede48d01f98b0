"""Canonical raw documents, one builder per shop collection, as the live site stores them.

Hand-written (not produced by the generator) so transform tests pin the raw contract itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import Decimal128, ObjectId

T0 = datetime(2026, 11, 1, 12, 0, 0)


def user_session(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "session_id": f"sess_{n:04d}",
        "user_id": f"U{n % 7:04d}",
        "start_time": T0,
        "end_time": T0 + timedelta(minutes=12),
        "pages_visited": ["/", f"/product/P{n:04d}", "/cart"],
        "device": {"type": "mobile", "os": "Android", "browser": "Chrome"},
        "actions": [
            {"type": "view", "target": f"P{n:04d}", "time": T0 + timedelta(minutes=1)},
            {"type": "add_to_cart", "target": f"P{n:04d}", "time": T0 + timedelta(minutes=3)},
        ],
        "updated_at": updated_at,
    }
    return doc | over


def product(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "product_id": f"P{n:04d}",
        "price_changes": [
            {"date": T0 - timedelta(days=30), "price": Decimal128("19.90")},
            {"date": T0 - timedelta(days=3), "price": Decimal128("17.50")},
        ],
        "current_price": Decimal128("17.50"),
        "currency": "EUR",
        "updated_at": updated_at,
    }
    return doc | over


def event_log(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "event_id": f"evt_{n:05d}",
        "timestamp": T0,
        "event_type": "error",
        "user_id": None,
        "details": {"code": 502, "message": "bad gateway", "at": T0},
        "updated_at": updated_at,
    }
    return doc | over


def support_ticket(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "ticket_id": f"T{n:05d}",
        "user_id": f"U{n % 7:04d}",
        "status": "pending",
        "issue_type": "delivery",
        "messages": [
            {"sender": "user", "text": "Where is my parcel?", "sent_at": T0},
            {"sender": "agent", "text": "Checking.", "sent_at": T0 + timedelta(hours=1)},
        ],
        "status_history": [
            {"status": "open", "changed_at": T0},
            {"status": "pending", "changed_at": T0 + timedelta(hours=1)},
        ],
        "created_at": T0,
        "updated_at": updated_at,
    }
    return doc | over


def user_recommendation(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "user_id": f"U{n:04d}",
        "recommended_products": [
            {"product_id": "P0001", "score": 0.93},
            {"product_id": "P0002", "score": 0.41},
        ],
        "last_updated": T0,
        "updated_at": updated_at,
    }
    return doc | over


def moderation_item(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "review_id": f"R{n:05d}",
        "user_id": f"U{n % 7:04d}",
        "product_id": "P0001",
        "review_text": "Fits well, arrived late.",
        "rating": 4,
        "moderation_status": "approved",
        "flags": ["off_topic"],
        "submitted_at": T0,
        "updated_at": updated_at,
    }
    return doc | over


def search_query(n: int = 1, *, updated_at: datetime = T0, **over: Any) -> dict[str, Any]:
    doc = {
        "_id": ObjectId(),
        "query_id": f"Q{n:05d}",
        "user_id": f"U{n % 7:04d}",
        "query_text": "Running Shoes",
        "timestamp": T0,
        "filters": {"category": "shoes", "price_max": 100, "in_stock": True},
        "results_count": 12,
        "updated_at": updated_at,
    }
    return doc | over


BUILDERS = {
    "user_sessions": user_session,
    "product_price_history": product,
    "event_logs": event_log,
    "support_tickets": support_ticket,
    "user_recommendations": user_recommendation,
    "moderation_queue": moderation_item,
    "search_queries": search_query,
}
"""Collection name → builder of one canonical document."""
