"""The live-shop generator: types, references, determinism, live updates and faults."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128
from typer.testing import CliRunner

from generator.cli import app
from generator.shop import COLLECTIONS, FAULT_KINDS, build_documents, live_updates, write_once
from generator.shop.faults import KEYS

FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "user_sessions": {
        "session_id": str,
        "user_id": str,
        "start_time": datetime,
        "end_time": datetime,
        "pages_visited": list,
        "device": dict,
        "actions": list,
        "updated_at": datetime,
    },
    "product_price_history": {
        "product_id": str,
        "price_changes": list,
        "current_price": Decimal128,
        "currency": str,
        "updated_at": datetime,
    },
    "event_logs": {
        "event_id": str,
        "timestamp": datetime,
        "event_type": str,
        "user_id": (str, type(None)),
        "details": dict,
        "updated_at": datetime,
    },
    "support_tickets": {
        "ticket_id": str,
        "user_id": str,
        "status": str,
        "issue_type": str,
        "messages": list,
        "status_history": list,
        "created_at": datetime,
        "updated_at": datetime,
    },
    "user_recommendations": {
        "user_id": str,
        "recommended_products": list,
        "last_updated": datetime,
        "updated_at": datetime,
    },
    "moderation_queue": {
        "review_id": str,
        "user_id": str,
        "product_id": str,
        "review_text": str,
        "rating": int,
        "moderation_status": str,
        "flags": list,
        "submitted_at": datetime,
        "updated_at": datetime,
    },
    "search_queries": {
        "query_id": str,
        "user_id": (str, type(None)),
        "query_text": str,
        "timestamp": datetime,
        "filters": dict,
        "results_count": int,
        "updated_at": datetime,
    },
}


@pytest.fixture(scope="module")
def docs() -> dict[str, list[dict[str, Any]]]:
    return build_documents(300, seed=11)


def test_every_field_has_its_bson_type(docs: dict[str, list[dict[str, Any]]]) -> None:
    assert set(docs) == set(COLLECTIONS)
    for name, fields in FIELDS.items():
        assert docs[name], name
        for doc in docs[name]:
            for field, kind in fields.items():
                assert isinstance(doc[field], kind), (name, field, doc[field])
    session = docs["user_sessions"][0]
    assert set(session["device"]) == {"type", "os", "browser"}
    assert all(set(a) == {"type", "target", "time"} for a in session["actions"])
    change = docs["product_price_history"][0]["price_changes"][0]
    assert isinstance(change["date"], datetime) and isinstance(change["price"], Decimal128)
    assert all(len(d["currency"]) == 3 for d in docs["product_price_history"])


def test_references_agree_across_collections(docs: dict[str, list[dict[str, Any]]]) -> None:
    users_with_sessions = {d["user_id"] for d in docs["user_sessions"]}
    products = {d["product_id"] for d in docs["product_price_history"]}
    assert {d["user_id"] for d in docs["support_tickets"]} <= users_with_sessions
    assert {d["user_id"] for d in docs["moderation_queue"]} <= users_with_sessions
    assert {d["product_id"] for d in docs["moderation_queue"]} <= products
    recommended = {
        p["product_id"] for d in docs["user_recommendations"] for p in d["recommended_products"]
    }
    assert recommended <= products


def test_time_stamps_are_consistent(docs: dict[str, list[dict[str, Any]]]) -> None:
    for s in docs["user_sessions"]:
        assert s["end_time"] > s["start_time"]
        assert all(s["start_time"] <= a["time"] <= s["end_time"] for a in s["actions"])
    for t in docs["support_tickets"]:
        sent = [m["sent_at"] for m in t["messages"]]
        assert sent == sorted(sent) and sent[0] >= t["created_at"]
        assert t["status_history"][-1]["status"] == t["status"]
    for p in docs["product_price_history"]:
        dates = [c["date"] for c in p["price_changes"]]
        assert dates == sorted(dates)
        assert p["current_price"] == p["price_changes"][-1]["price"]


def test_same_seed_same_documents_other_seed_other_documents() -> None:
    assert build_documents(50, seed=3) == build_documents(50, seed=3)
    assert build_documents(50, seed=3) != build_documents(50, seed=4)


def test_dirty_documents_carry_every_fault_kind() -> None:
    dirty = build_documents(200, seed=5, dirty=1.0)
    clean = build_documents(200, seed=5)
    seen: set[str] = set()
    for name, docs in dirty.items():
        key = KEYS[name]
        ids = [d.get(key) for d in docs]
        for before, after in zip(clean[name], docs, strict=True):
            if set(before) - set(after):
                seen.add("missing_field")
            if any(
                isinstance(before.get(f), datetime) and isinstance(after.get(f), str)
                for f in before
            ):
                seen.add("date_as_string")
            if isinstance(after.get("current_price"), str):
                seen.add("price_as_string")
            if name == "moderation_queue" and not 1 <= after.get("rating", 3) <= 5:
                seen.add("rating_out_of_range")
            if after.get(key, "x") is None:
                seen.add("null_id")
            if "escalated" in (after.get("status"), after.get("moderation_status")) or (
                after.get("event_type") == "teleport"
                or after.get("device", {}).get("type") == "smart-fridge"
            ):
                seen.add("unknown_enum")
        if len([i for i in ids if i is not None]) > len({i for i in ids if i is not None}):
            seen.add("duplicate_id")
    assert seen == set(FAULT_KINDS)


def test_write_once_then_live_updates_bump_updated_at(mongo: Any) -> None:
    written = write_once(mongo, 100, seed=2)
    assert written["user_sessions"] == 100
    assert mongo.user_sessions.count_documents({}) == 100
    before = {d["_id"]: d for d in mongo.support_tickets.find({})}
    reviews = mongo.moderation_queue.count_documents({})
    event_ids = {d["_id"] for d in mongo.event_logs.find({}, {"_id": 1})}
    counts = live_updates(mongo, 200, seed=9)
    assert mongo.moderation_queue.count_documents({}) < reviews  # reviews withdrawn (deleted)
    assert not event_ids <= {d["_id"] for d in mongo.event_logs.find({}, {"_id": 1})}  # erased
    assert sum(counts.values()) > 150
    assert mongo.user_sessions.count_documents({}) > 100  # new documents too
    changed = 0
    for doc in mongo.support_tickets.find({}):
        old = before.get(doc["_id"])
        if old is not None and old["updated_at"] != doc["updated_at"]:
            changed += 1
            assert doc["updated_at"] > old["updated_at"]
            assert len(doc["status_history"]) > len(old["status_history"])
            assert len(doc["messages"]) > len(old["messages"])
            assert doc["status_history"][-1]["status"] == doc["status"]
    assert changed > 0
    moderated = mongo.moderation_queue.count_documents({"moderation_status": "pending"})
    assert moderated < sum(
        1
        for d in build_documents(100, 2)["moderation_queue"]
        if d["moderation_status"] == "pending"
    )
    prices = next(iter(mongo.product_price_history.find({}).sort([("updated_at", -1)]).limit(1)))
    assert prices["current_price"] == prices["price_changes"][-1]["price"]
    assert isinstance(prices["current_price"].to_decimal(), Decimal)


def test_cli_once_writes_counts_and_bad_arguments_exit_2(mongo: Any) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["--once", "--scale", "30", "--seed", "1"])
    assert ok.exit_code == 0, ok.output
    assert mongo.user_sessions.count_documents({}) == 30
    for bad in (["--once", "--continuous"], ["--once", "--scale", "0"], ["--once", "--dirty", "2"]):
        result = runner.invoke(app, bad)
        assert result.exit_code == 2, bad
        assert result.output.count("\n") == 1 and result.output.startswith("error:"), result.output


def test_search_terms_are_shop_vocabulary_ranked_by_zipf() -> None:
    """Queries are what shoppers type (a product of a category with a usual qualifier), and the
    k-th most popular is searched about 1/k as often as the first."""
    from collections import Counter

    from generator.shop.pools import VOCABULARY, World

    world = World.create(2000, seed=42)
    nouns = {noun for products, _ in VOCABULARY.values() for noun in products}
    assert all(any(term.endswith(noun) for noun in nouns) for term in world.search_terms)
    counts = Counter(world.search_term() for _ in range(20_000))
    first, tenth = (counts[world.search_terms[k]] for k in (0, 9))
    assert 6 < first / tenth < 15  # Zipf: about 10
