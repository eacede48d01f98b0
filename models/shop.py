"""The web shop's normalised tables (schema `shop`), one parent per Mongo collection.

Arrays become child tables keyed by (parent key, position); small fixed objects (a session's
device) become columns; free-form objects (an event's details) stay JSONB. Cross-collection ids
(user_id, product_id) are not foreign keys: documents arrive out of order, so expectations check
them instead.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import Json, Money, ParentKey, SourceTracked, Text, Timestamp, checked

SCHEMA = {"schema": "shop"}

DeviceType = Literal["desktop", "mobile", "tablet"]
ActionType = Literal[
    "view", "click", "add_to_cart", "remove_from_cart", "search", "checkout", "purchase"
]
EventType = Literal[
    "login", "logout", "error", "click", "view", "purchase", "add_to_cart", "search"
]
TicketStatus = Literal["open", "closed", "pending"]
IssueType = Literal["payment", "delivery", "account", "product", "refund", "technical"]
Sender = Literal["user", "agent"]
ModerationStatus = Literal["pending", "approved", "rejected"]
CURRENCY_PATTERN = "^[A-Z]{3}$"


@checked
class UserSession(SourceTracked, table=True):
    __tablename__ = "user_sessions"
    __table_args__ = SCHEMA

    session_id: str = Text(primary_key=True)
    user_id: str = Text(index=True)
    start_time: datetime = Timestamp(index=True)
    end_time: datetime | None = Timestamp()
    device_type: DeviceType | None = Text()
    device_os: str | None = Text()
    device_browser: str | None = Text()


@checked
class SessionPage(SQLModel, table=True):
    __tablename__ = "session_pages"
    __table_args__ = SCHEMA

    session_id: str = ParentKey("shop.user_sessions.session_id")
    position: int = Field(primary_key=True, ge=0)
    page: str = Text()


@checked
class SessionAction(SQLModel, table=True):
    __tablename__ = "session_actions"
    __table_args__ = SCHEMA

    session_id: str = ParentKey("shop.user_sessions.session_id")
    position: int = Field(primary_key=True, ge=0)
    action_type: ActionType = Text()
    target: str | None = Text()
    occurred_at: datetime = Timestamp(index=True)


@checked
class Product(SourceTracked, table=True):
    __tablename__ = "products"
    __table_args__ = SCHEMA

    product_id: str = Text(primary_key=True)
    current_price: Decimal = Money()
    currency: str = Field(sa_type=sa.CHAR(3), schema_extra={"pattern": CURRENCY_PATTERN})


@checked
class ProductPriceChange(SQLModel, table=True):
    __tablename__ = "product_price_changes"
    __table_args__ = SCHEMA

    product_id: str = ParentKey("shop.products.product_id")
    position: int = Field(primary_key=True, ge=0)
    changed_at: datetime = Timestamp(index=True)
    price: Decimal = Money()


@checked
class EventLog(SourceTracked, table=True):
    __tablename__ = "event_logs"
    __table_args__ = SCHEMA

    event_id: str = Text(primary_key=True)
    occurred_at: datetime = Timestamp(index=True)
    event_type: EventType = Text()
    user_id: str | None = Text(index=True)
    details: dict[str, Any] | None = Json()


@checked
class SupportTicket(SourceTracked, table=True):
    __tablename__ = "support_tickets"
    __table_args__ = SCHEMA

    ticket_id: str = Text(primary_key=True)
    user_id: str = Text(index=True)
    status: TicketStatus = Text()
    issue_type: IssueType = Text()
    created_at: datetime = Timestamp(index=True)
    updated_at: datetime = Timestamp()


@checked
class TicketMessage(SQLModel, table=True):
    __tablename__ = "ticket_messages"
    __table_args__ = SCHEMA

    ticket_id: str = ParentKey("shop.support_tickets.ticket_id")
    position: int = Field(primary_key=True, ge=0)
    sender: Sender = Text()
    body: str = Text()
    sent_at: datetime = Timestamp()


@checked
class TicketStatusChange(SQLModel, table=True):
    """A ticket's status history (open → pending → closed, and reopenings)."""

    __tablename__ = "ticket_status_changes"
    __table_args__ = SCHEMA

    ticket_id: str = ParentKey("shop.support_tickets.ticket_id")
    position: int = Field(primary_key=True, ge=0)
    status: TicketStatus = Text()
    changed_at: datetime = Timestamp()


@checked
class UserRecommendation(SourceTracked, table=True):
    __tablename__ = "user_recommendations"
    __table_args__ = SCHEMA

    user_id: str = Text(primary_key=True)
    last_updated: datetime = Timestamp()


@checked
class RecommendedProduct(SQLModel, table=True):
    __tablename__ = "recommended_products"
    __table_args__ = SCHEMA

    user_id: str = ParentKey("shop.user_recommendations.user_id")
    rank: int = Field(primary_key=True, ge=1)
    product_id: str = Text(index=True)
    score: float = Field(ge=0, le=1)


@checked
class ModerationItem(SourceTracked, table=True):
    __tablename__ = "moderation_queue"
    __table_args__ = SCHEMA

    review_id: str = Text(primary_key=True)
    user_id: str = Text(index=True)
    product_id: str = Text(index=True)
    review_text: str = Text()
    rating: int = Field(ge=1, le=5)
    moderation_status: ModerationStatus = Text()
    submitted_at: datetime = Timestamp(index=True)


@checked
class ReviewFlag(SQLModel, table=True):
    __tablename__ = "review_flags"
    __table_args__ = SCHEMA

    review_id: str = ParentKey("shop.moderation_queue.review_id")
    position: int = Field(primary_key=True, ge=0)
    flag: str = Text()


@checked
class SearchQuery(SourceTracked, table=True):
    __tablename__ = "search_queries"
    __table_args__ = SCHEMA

    query_id: str = Text(primary_key=True)
    user_id: str | None = Text(index=True)
    query_text: str = Text()
    searched_at: datetime = Timestamp(index=True)
    results_count: int = Field(ge=0)


@checked
class SearchFilter(SQLModel, table=True):
    __tablename__ = "search_filters"
    __table_args__ = SCHEMA

    query_id: str = ParentKey("shop.search_queries.query_id")
    name: str = Text(primary_key=True)
    value: str | None = Text()
