"""The web shop's table assets: one per Mongo collection, each a pure document → rows mapping.

Reading, coercion errors, the models' rules, batching, merging, watermarks and rejects are the
engine's; a transform only says where each column comes from.
"""

from __future__ import annotations

import json

from etl.engine import AssetCheck, Doc, Rows, TableAsset, asset_check, table_asset
from etl.engine.values.coerce import to_json
from models.shop import (
    EventLog,
    ModerationItem,
    Product,
    ProductPriceChange,
    RecommendedProduct,
    ReviewFlag,
    SearchFilter,
    SearchQuery,
    SessionAction,
    SessionPage,
    SupportTicket,
    TicketMessage,
    TicketStatusChange,
    UserRecommendation,
    UserSession,
)

GROUP = "shop"


@table_asset(
    source="user_sessions",
    parent=UserSession,
    children=(SessionPage, SessionAction),
    group=GROUP,
    partitioned=True,  # the largest collection: its snapshots are split into `_id` ranges
)
def user_sessions(doc: Doc) -> Rows:
    """Browsing sessions with the pages they visited and the actions they took."""
    device = doc.obj("device")
    start, end = doc.ts("start_time"), doc.ts("end_time")
    if start and end and end < start:
        doc.error("end_time", f"{end.isoformat()} is before start_time {start.isoformat()}")
    return {
        UserSession: {
            "session_id": doc.id("session_id"),
            "user_id": doc.id("user_id"),
            "start_time": start,
            "end_time": end,
            "device_type": device.text("type"),
            "device_os": device.text("os"),
            "device_browser": device.text("browser"),
        },
        SessionPage: [{"position": i, "page": page} for i, page in doc.values("pages_visited")],
        SessionAction: [
            {
                "position": i,
                "action_type": action.text("type"),
                "target": action.text("target"),
                "occurred_at": action.ts("time"),
            }
            for i, action in doc.each("actions")
        ],
    }


@table_asset(
    source="product_price_history", parent=Product, children=(ProductPriceChange,), group=GROUP
)
def products(doc: Doc) -> Rows:
    """Products with their current price and every price change."""
    return {
        Product: {
            "product_id": doc.id("product_id"),
            "current_price": doc.money("current_price"),
            "currency": doc.text("currency"),
        },
        ProductPriceChange: [
            {"position": i, "changed_at": change.ts("date"), "price": change.money("price")}
            for i, change in doc.each("price_changes")
        ],
    }


@table_asset(source="event_logs", parent=EventLog, group=GROUP, partitioned=True)
def event_logs(doc: Doc) -> Rows:
    """Site events; `details` differs by event type and stays JSONB."""
    return {
        EventLog: {
            "event_id": doc.id("event_id"),
            "occurred_at": doc.ts("timestamp"),
            "event_type": doc.text("event_type"),
            "user_id": doc.id("user_id"),
            "details": doc.json("details"),
        }
    }


@table_asset(
    source="support_tickets",
    parent=SupportTicket,
    children=(TicketMessage, TicketStatusChange),
    group=GROUP,
)
def support_tickets(doc: Doc) -> Rows:
    """Support tickets, their messages and their status history."""
    return {
        SupportTicket: {
            "ticket_id": doc.id("ticket_id"),
            "user_id": doc.id("user_id"),
            "status": doc.text("status"),
            "issue_type": doc.text("issue_type"),
            "created_at": doc.ts("created_at"),
            "updated_at": doc.ts("updated_at"),
        },
        TicketMessage: [
            {
                "position": i,
                "sender": message.text("sender"),
                "body": message.text("text"),
                "sent_at": message.ts("sent_at"),
            }
            for i, message in doc.each("messages")
        ],
        TicketStatusChange: [
            {"position": i, "status": change.text("status"), "changed_at": change.ts("changed_at")}
            for i, change in doc.each("status_history")
        ],
    }


@table_asset(
    source="user_recommendations",
    parent=UserRecommendation,
    children=(RecommendedProduct,),
    group=GROUP,
)
def user_recommendations(doc: Doc) -> Rows:
    """The latest recommendation list per user, ranked."""
    return {
        UserRecommendation: {"user_id": doc.id("user_id"), "last_updated": doc.ts("last_updated")},
        RecommendedProduct: [
            {"rank": i + 1, "product_id": item.id("product_id"), "score": item.float("score")}
            for i, item in doc.each("recommended_products")
        ],
    }


@table_asset(source="moderation_queue", parent=ModerationItem, children=(ReviewFlag,), group=GROUP)
def moderation_queue(doc: Doc) -> Rows:
    """Product reviews awaiting or past moderation, with their flags."""
    return {
        ModerationItem: {
            "review_id": doc.id("review_id"),
            "user_id": doc.id("user_id"),
            "product_id": doc.id("product_id"),
            "review_text": doc.text("review_text"),
            "rating": doc.int("rating"),
            "moderation_status": doc.text("moderation_status"),
            "submitted_at": doc.ts("submitted_at"),
        },
        ReviewFlag: [{"position": i, "flag": flag} for i, flag in doc.values("flags")],
    }


@table_asset(source="search_queries", parent=SearchQuery, children=(SearchFilter,), group=GROUP)
def search_queries(doc: Doc) -> Rows:
    """Site searches and the filters used with them (one row per filter)."""
    return {
        SearchQuery: {
            "query_id": doc.id("query_id"),
            "user_id": doc.id("user_id"),
            "query_text": doc.text("query_text"),
            "searched_at": doc.ts("timestamp"),
            "results_count": doc.int("results_count"),
        },
        SearchFilter: [
            {"name": name, "value": _filter_value(value)} for name, value in doc.mapping("filters")
        ],
    }


def _filter_value(value: object) -> str | None:
    """Filters are a free mapping: scalars as text (true/false for booleans), the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(to_json(value), ensure_ascii=False, sort_keys=True)


ASSETS = (
    user_sessions,
    products,
    event_logs,
    support_tickets,
    user_recommendations,
    moderation_queue,
    search_queries,
)

# --- checks: what the models cannot say about the data -----------------------------------------
# Severity policy: a rule that can only fail when our own transform or the source is wrong blocks
# (the checkpoint task fails, downstream marts wait). A cross-collection reference warns:
# documents arrive out of order and the referenced asset may not have run yet in this DAG run, so
# a missing product is worth a report, not a stopped warehouse. GX substitutes `{batch}` with
# "(SELECT ...) AS subselect": to alias it, wrap it in a subquery.


def _product_exists(asset: TableAsset, table: str, key: str) -> AssetCheck:
    return asset_check(
        asset,
        "unexpected_rows_expectation",
        "warning",
        table=table,
        reads=(products,),
        description="every referenced product exists in shop.products",
        unexpected_rows_query=(
            f"SELECT r.{key}, r.product_id FROM (SELECT * FROM {{batch}}) r WHERE NOT EXISTS "
            "(SELECT 1 FROM shop.products p WHERE p.product_id = r.product_id)"
        ),
    )


CHECKS = (
    asset_check(
        user_sessions,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="a session ends at or after it starts",
        column_A="end_time",
        column_B="start_time",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    ),
    asset_check(
        support_tickets,
        "unexpected_rows_expectation",
        "blocking",
        table="shop.ticket_messages",
        description="no message is sent before its ticket was created",
        unexpected_rows_query=(
            "SELECT m.ticket_id, m.position, m.sent_at, t.created_at FROM (SELECT * FROM {batch}) m"
            " JOIN shop.support_tickets t USING (ticket_id) WHERE m.sent_at < t.created_at"
        ),
    ),
    _product_exists(user_recommendations, "shop.recommended_products", "user_id"),
    _product_exists(moderation_queue, "shop.moderation_queue", "review_id"),
)
