"""The 7 shop transforms as pure functions: canonical documents in, rows out; faults → reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import shop_docs

from etl.definitions import defs
from etl.engine import Doc
from etl.engine.rows.tables import layout_of
from models import shop

GRAPH = defs.graph
T0 = shop_docs.T0.replace(tzinfo=UTC)


def run(asset_name: str, raw: dict[str, Any]) -> tuple[dict[Any, Any], list[str]]:
    """Transform + the models' rules, exactly as the loader applies them; returns rows, errors."""
    asset = GRAPH.assets[asset_name]
    doc = Doc(raw)
    rows = asset.transform(doc)
    errors = list(doc.errors)
    parent = layout_of(asset.parent)
    assert parent.shape_problem(rows[asset.parent]) is None  # every column, no stray key
    errors += parent.validate(rows[asset.parent])
    for child in asset.children:
        layout = layout_of(child, asset.parent)
        for row in rows.get(child, []):
            assert layout.shape_problem(row) is None
            errors += layout.validate(row)
    return rows, errors


def test_user_sessions_flattens_device_and_children() -> None:
    rows, errors = run("user_sessions", shop_docs.user_session(3))
    assert errors == []
    assert rows[shop.UserSession] == {
        "session_id": "sess_0003",
        "user_id": "U0003",
        "start_time": T0,
        "end_time": T0 + timedelta(minutes=12),
        "device_type": "mobile",
        "device_os": "Android",
        "device_browser": "Chrome",
    }
    assert [r["page"] for r in rows[shop.SessionPage]] == ["/", "/product/P0003", "/cart"]
    assert [(r["position"], r["action_type"]) for r in rows[shop.SessionAction]] == [
        (0, "view"),
        (1, "add_to_cart"),
    ]
    assert rows[shop.SessionAction][1]["occurred_at"] == T0 + timedelta(minutes=3)


def test_products_keep_money_exact() -> None:
    rows, errors = run("products", shop_docs.product(1))
    assert errors == []
    assert rows[shop.Product]["current_price"] == Decimal("17.50")
    assert rows[shop.Product]["currency"] == "EUR"
    prices = [(r["position"], r["price"]) for r in rows[shop.ProductPriceChange]]
    assert prices == [(0, Decimal("19.90")), (1, Decimal("17.50"))]


def test_event_logs_keep_free_form_details_as_json() -> None:
    rows, errors = run("event_logs", shop_docs.event_log(1))
    assert errors == []
    event = rows[shop.EventLog]
    assert event["user_id"] is None and event["event_type"] == "error"
    assert event["details"]["code"] == 502
    assert event["details"]["at"] == T0.isoformat()  # BSON date rendered as JSON text


def test_support_tickets_messages_and_status_history() -> None:
    rows, errors = run("support_tickets", shop_docs.support_ticket(5))
    assert errors == []
    assert rows[shop.SupportTicket]["status"] == "pending"
    assert [m["sender"] for m in rows[shop.TicketMessage]] == ["user", "agent"]
    assert [c["status"] for c in rows[shop.TicketStatusChange]] == ["open", "pending"]


def test_recommendations_are_ranked_from_one() -> None:
    rows, errors = run("user_recommendations", shop_docs.user_recommendation(2))
    assert errors == []
    ranked = [(r["rank"], r["product_id"], r["score"]) for r in rows[shop.RecommendedProduct]]
    assert ranked == [(1, "P0001", 0.93), (2, "P0002", 0.41)]


def test_moderation_queue_with_flags() -> None:
    rows, errors = run("moderation_queue", shop_docs.moderation_item(4))
    assert errors == []
    assert rows[shop.ModerationItem]["rating"] == 4
    assert [f["flag"] for f in rows[shop.ReviewFlag]] == ["off_topic"]


def test_search_filters_become_one_row_each() -> None:
    rows, errors = run("search_queries", shop_docs.search_query(1))
    assert errors == []
    filters = {r["name"]: r["value"] for r in rows[shop.SearchFilter]}
    assert filters == {"category": "shoes", "price_max": "100", "in_stock": "true"}


# -- the generator's fault kinds, one asset each, and several at once -----------------------


@pytest.mark.parametrize(
    ("asset", "raw", "expected"),
    [
        pytest.param(
            "support_tickets",
            {k: v for k, v in shop_docs.support_ticket(1).items() if k != "issue_type"},
            ["issue_type: required, missing or null"],
            id="missing_field",
        ),
        pytest.param(
            "products",
            shop_docs.product(1, current_price="12,50 USD"),
            [
                "current_price: '12,50 USD' is not a number",
                "current_price: required, missing or null",
            ],
            id="price_as_string",
        ),
        pytest.param(
            "moderation_queue",
            shop_docs.moderation_item(1, rating=7),
            ["rating: 7 is out of range 1..5"],
            id="rating_out_of_range",
        ),
        pytest.param(
            "event_logs",
            shop_docs.event_log(1, event_id=None),
            ["event_id: required, missing or null"],
            id="null_id",
        ),
        pytest.param(
            "user_sessions",
            shop_docs.user_session(1, device={"type": "smart-fridge", "os": "x", "browser": "y"}),
            ["device_type: 'smart-fridge' is not one of desktop, mobile, tablet"],
            id="unknown_enum",
        ),
        pytest.param(
            "user_sessions",
            shop_docs.user_session(
                1, end_time=shop_docs.T0 - timedelta(minutes=1), pages_visited="not-a-list"
            ),
            [
                "end_time: 2026-11-01T11:59:00+00:00 is before start_time "
                "2026-11-01T12:00:00+00:00",
                "pages_visited: expected an array, got str",
            ],
            id="several_faults_one_reject",
        ),
    ],
)
def test_faults_give_every_reason(asset: str, raw: dict[str, Any], expected: list[str]) -> None:
    _, errors = run(asset, raw)
    assert errors == expected


def test_date_as_iso_string_is_accepted_and_converted() -> None:
    rows, errors = run(
        "search_queries", shop_docs.search_query(1, timestamp="2026-11-01T12:00:00Z")
    )
    assert errors == []
    assert rows[shop.SearchQuery]["searched_at"] == datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_unparseable_date_is_a_reason() -> None:
    _, errors = run("search_queries", shop_docs.search_query(1, timestamp="yesterday"))
    assert errors == [
        "timestamp: 'yesterday' is not an ISO-8601 timestamp",
        "searched_at: required, missing or null",
    ]


def test_child_item_errors_name_their_position() -> None:
    raw = shop_docs.support_ticket(1)
    raw["messages"][1]["sender"] = "robot"
    _, errors = run("support_tickets", raw)
    assert errors == ["sender: 'robot' is not one of agent, user"]


def test_lenient_items_set_bad_items_aside_and_keep_the_rest() -> None:
    from models.aviasales import Ticket

    base = {"origin": "MOW", "destination": "DXB", "flight_number": "132", "transfers": 0}
    raw = {
        "data": [
            base | {"airline": "EK", "price": 21000},
            base | {"airline": "emirates", "price": "cheap"},
            "not an object",
        ]
    }

    def offer_row(position: int, offer: Doc) -> dict[str, Any]:
        return {
            "position": position,
            "origin": offer.text("origin"),
            "destination": offer.text("destination"),
            "origin_airport": offer.text("origin"),
            "destination_airport": offer.text("destination"),
            "airline": offer.text("airline"),
            "flight_number": offer.text("flight_number"),
            "departure_at": T0,
            "departure_date": T0.date(),
            "price": offer.money("price"),
            "currency": "RUB",
            "transfers": offer.int("transfers"),
            "found_at": T0,
        }

    doc = Doc(raw)
    rows = doc.lenient("data", Ticket, offer_row)
    assert [(r["airline"], r["price"]) for r in rows] == [("EK", Decimal(21000))]
    assert doc.errors == []
    (first, second) = doc.item_rejects
    assert first.path == "data[1]"
    assert first.reasons == [
        "data[1].price: 'cheap' is not a number",
        "data[1].price: required, missing or null",
        "data[1].airline: 'emirates' does not match ^[A-Z0-9]{2}$",
    ]
    assert second.path == "data[2]" and second.reasons == ["expected an object, got str"]


def test_a_misspelt_column_key_fails_the_asset_naming_asset_table_and_key(
    db: Any, mongo: Any
) -> None:
    """A transform bug is not a data problem: no NULL column, no reject per document."""
    import dataclasses

    from etl.engine import Definitions

    asset = GRAPH.assets["event_logs"]

    def misspelt(doc: Doc) -> Any:
        rows = asset.transform(doc)
        rows[shop.EventLog]["event_tpye"] = rows[shop.EventLog].pop("event_type")
        return rows

    def forgotten(doc: Doc) -> Any:
        rows = asset.transform(doc)
        del rows[shop.EventLog]["user_id"]  # nullable, but no default: must be said
        return rows

    mongo.event_logs.insert_many([shop_docs.event_log(1)])
    for transform, message in (
        (misspelt, "asset 'event_logs': shop.event_logs has no column 'event_tpye'"),
        (forgotten, "asset 'event_logs': the row for shop.event_logs has no 'user_id'"),
    ):
        broken = dataclasses.replace(asset, transform=transform)
        run_ = Definitions(assets=[broken]).materialize("event_logs")
        outcome = run_["event_logs"]
        assert outcome.status == "failed"
        assert outcome.error is not None and outcome.error.startswith(message)
        assert db.execute("SELECT count(*) FROM etl.rejects").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM shop.event_logs").fetchone() == (0,)
