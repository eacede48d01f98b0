"""The loading contract (docs/architecture.md) on real embedded PostgreSQL and MongoDB servers."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import shop_docs
from bson import Decimal128, ObjectId

from etl.definitions import defs
from etl.engine import AssetGraph, TableAsset, materialize
from etl.engine.bookkeeping import records as engine_state
from etl.settings import get_settings

SHOP_TABLES = (
    "shop.support_tickets",
    "shop.ticket_messages",
    "shop.ticket_status_changes",
    "shop.products",
    "shop.product_price_changes",
    "shop.event_logs",
)


def snapshot(db: psycopg.Connection, tables: tuple[str, ...] = SHOP_TABLES) -> dict[str, list]:
    """Full contents of each table, sorted, so runs can be compared value by value."""
    return {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}


def watermark(db: psycopg.Connection, asset: str) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT cursor_value, last_id FROM etl.watermarks WHERE asset = %s", [asset]
    ).fetchone()


def count(db: psycopg.Connection, table: str, where: str = "true") -> int:
    row = db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    assert row is not None
    return row[0]


def naive(value: Any) -> Any:
    return value.replace(tzinfo=None)  # Mongo stores naive UTC


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_BATCH_SIZE", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_incremental_run_picks_up_exactly_the_changed_documents(db: Any, mongo: Any) -> None:
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 6)])
    mongo.product_price_history.insert_many([shop_docs.product(i) for i in range(1, 4)])
    first = defs.materialize("support_tickets products")
    assert first.ok
    assert first["support_tickets"].result.documents_read == 5

    later = shop_docs.T0 + timedelta(hours=2)
    mongo.support_tickets.update_one(
        {"ticket_id": "T00002"},
        {
            "$set": {"status": "closed", "updated_at": later},
            "$push": {"status_history": {"status": "closed", "changed_at": later}},
        },
    )
    product = mongo.product_price_history.find_one({"product_id": "P0003"})
    changes = [*product["price_changes"][1:], {"date": later, "price": Decimal128("15.00")}]
    mongo.product_price_history.update_one(
        {"product_id": "P0003"},
        {
            "$set": {
                "price_changes": changes,
                "current_price": Decimal128("15.00"),
                "updated_at": later,
            }
        },
    )
    second = defs.materialize("support_tickets products")
    assert second["support_tickets"].result.documents_read == 1
    assert second["products"].result.documents_read == 1
    status = db.execute("SELECT status FROM shop.support_tickets WHERE ticket_id = 'T00002'")
    assert status.fetchone() == ("closed",)
    history = db.execute(
        "SELECT status FROM shop.ticket_status_changes WHERE ticket_id = 'T00002' ORDER BY position"
    ).fetchall()
    assert history == [("open",), ("pending",), ("closed",)]
    prices = db.execute(
        "SELECT price FROM shop.product_price_changes WHERE product_id = 'P0003' ORDER BY position"
    ).fetchall()
    assert [str(p) for (p,) in prices] == ["17.50", "15.00"]  # old child rows replaced
    assert count(db, "shop.product_price_changes") == 2 * 2 + 2


def test_running_twice_changes_nothing(db: Any, mongo: Any) -> None:
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 8)])
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 8)])
    assert defs.materialize("support_tickets event_logs").ok
    before = snapshot(db)
    mark = watermark(db, "support_tickets")
    again = defs.materialize("support_tickets event_logs")
    assert again["support_tickets"].result.documents_read == 0
    refreshed = defs.materialize("support_tickets event_logs", full_refresh=True)
    assert refreshed["support_tickets"].result.documents_unchanged == 7
    assert refreshed["support_tickets"].result.total_rows == 0
    assert snapshot(db) == before
    assert watermark(db, "support_tickets") == mark


def test_equal_cursor_values_across_batch_boundaries_lose_nothing(
    db: Any, mongo: Any, small_batches: None
) -> None:
    same = shop_docs.T0
    ids = sorted(ObjectId() for _ in range(8))
    mongo.event_logs.insert_many(
        [shop_docs.event_log(i, updated_at=same, _id=ids[i]) for i in range(7)]
    )
    assert defs.materialize("event_logs")["event_logs"].result.documents_read == 7
    assert count(db, "shop.event_logs") == 7
    # a late document with the same updated_at but a larger _id is still picked up
    mongo.event_logs.insert_many([shop_docs.event_log(7, updated_at=same, _id=ids[7])])
    run = defs.materialize("event_logs")
    assert run["event_logs"].result.documents_read == 1
    assert count(db, "shop.event_logs") == 8


def test_failure_after_copy_before_commit_leaves_everything_as_before(
    db: Any, mongo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 4)])
    assert defs.materialize("support_tickets").ok
    before, mark = snapshot(db), watermark(db, "support_tickets")

    later = shop_docs.T0 + timedelta(days=1)
    mongo.support_tickets.update_many({}, {"$set": {"status": "closed", "updated_at": later}})
    mongo.support_tickets.insert_many([shop_docs.support_ticket(9, updated_at=later)])

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected after COPY, before commit")

    monkeypatch.setattr("etl.engine.load.incremental.save_watermark", explode)
    failed = defs.materialize("support_tickets")
    assert failed["support_tickets"].status == "failed"
    assert "injected" in (failed["support_tickets"].error or "")
    assert snapshot(db) == before
    assert watermark(db, "support_tickets") == mark

    monkeypatch.setattr("etl.engine.load.incremental.save_watermark", engine_state.save_watermark)
    recovered = defs.materialize("support_tickets")
    assert recovered.ok
    assert recovered["support_tickets"].result.documents_read == 4
    assert count(db, "shop.support_tickets", "status = 'closed'") == 3
    assert count(db, "shop.support_tickets") == 4


def test_incremental_runs_remove_rows_of_deleted_documents(db: Any, mongo: Any) -> None:
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 6)])
    assert defs.materialize("support_tickets").ok
    mongo.support_tickets.delete_many({"ticket_id": {"$in": ["T00002", "T00004"]}})
    run = defs.materialize("support_tickets")
    assert run["support_tickets"].result.rows_deleted == 2
    assert run["support_tickets"].result.documents_read == 0
    remaining = db.execute("SELECT ticket_id FROM shop.support_tickets ORDER BY 1").fetchall()
    assert remaining == [("T00001",), ("T00003",), ("T00005",)]
    assert count(db, "shop.ticket_messages", "ticket_id = 'T00002'") == 0  # cascaded
    (deleted,) = db.execute(
        "SELECT rows_deleted FROM etl.asset_runs WHERE run_id = %s", [run.run_id]
    ).fetchone()
    assert deleted == 2
    assert defs.materialize("support_tickets")["support_tickets"].result.rows_deleted == 0


def test_an_asset_that_opts_out_of_delete_scans_removes_rows_only_on_full_refresh(
    db: Any, mongo: Any
) -> None:
    project = defs.graph
    opted_out = dataclasses.replace(project.assets["support_tickets"], detect_deletes=False)
    graph = AssetGraph.build([opted_out])
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 6)])
    assert materialize("support_tickets", graph=graph).ok
    mongo.support_tickets.delete_many({"ticket_id": {"$in": ["T00002", "T00004"]}})
    assert materialize("support_tickets", graph=graph)["support_tickets"].result.rows_deleted == 0
    assert count(db, "shop.support_tickets") == 5
    refresh = materialize("support_tickets", graph=graph, full_refresh=True)
    assert refresh["support_tickets"].result.rows_deleted == 2
    assert count(db, "shop.support_tickets") == 3


def test_bad_documents_are_rejected_once_with_every_reason_and_the_rest_load(
    db: Any, mongo: Any
) -> None:
    good = [shop_docs.moderation_item(i) for i in range(1, 5)]
    bad = shop_docs.moderation_item(5, rating=9, moderation_status="escalated", user_id=None)
    duplicate = shop_docs.moderation_item(2, review_text="same review_id, other document")
    mongo.moderation_queue.insert_many([*good, bad, duplicate])
    run = defs.materialize("moderation_queue")
    assert run.ok
    assert run["moderation_queue"].result.rejects == 2
    assert count(db, "shop.moderation_queue") == 4
    rejects = db.execute(
        "SELECT source_id, reasons FROM etl.rejects ORDER BY array_length(reasons, 1) DESC"
    ).fetchall()
    codes = db.execute("SELECT source_id, code FROM etl.rejects").fetchall()
    assert sorted(codes) == sorted(
        [(str(bad["_id"]), "invalid"), (str(duplicate["_id"]), "key_clash")]
    )
    assert rejects[0] == (
        str(bad["_id"]),
        [
            "user_id: required, missing or null",
            "moderation_status: 'escalated' is not one of approved, pending, rejected",
            "rating: 9 is out of range 1..5",
        ],
    )
    assert rejects[1][0] == str(duplicate["_id"])
    assert rejects[1][1] == [f"review_id: 'R00002' is already the key of document {good[1]['_id']}"]


def test_a_row_only_the_database_refuses_does_not_abort_its_batch(db: Any, mongo: Any) -> None:
    db.execute(
        "ALTER TABLE shop.event_logs ADD CONSTRAINT test_only_db_knows"
        " CHECK (event_id <> 'evt_00004')"
    )
    try:
        mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 9)])
        run = defs.materialize("event_logs")
        assert run["event_logs"].result.rejects == 1
        assert count(db, "shop.event_logs") == 7
        reasons, code = db.execute("SELECT reasons, code FROM etl.rejects").fetchone()
        assert code == "refused"  # a CHECK constraint, not a clash
        assert reasons[0].startswith("database refused:")
        assert "test_only_db_knows" in reasons[0]
    finally:
        db.execute("ALTER TABLE shop.event_logs DROP CONSTRAINT test_only_db_knows")


def test_run_records_describe_each_run(db: Any, mongo: Any) -> None:
    mongo.support_tickets.insert_many([shop_docs.support_ticket(i) for i in range(1, 4)])
    run = defs.materialize("support_tickets")
    record = db.execute(
        "SELECT status, documents_read, rows_written, rejects, watermark_before, watermark_after,"
        " finished_at >= started_at FROM etl.asset_runs WHERE run_id = %s",
        [run.run_id],
    ).fetchone()
    status, read, rows, rejects, before, after, ordered = record
    assert (status, read, rejects, before, ordered) == ("success", 3, 0, None, True)
    assert rows == {
        "shop.support_tickets": 3,
        "shop.ticket_messages": 6,
        "shop.ticket_status_changes": 6,
    }
    assert after["cursor_value"].startswith("2026-11-01T12:00:00")


def test_a_second_run_of_the_same_asset_waits_for_the_first(
    db: Any, mongo: Any, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(1)])
    holder = psycopg.connect(migrated, autocommit=True)
    engine_state.acquire_asset_lock(holder, "event_logs", timeout=1)
    try:
        monkeypatch.setenv("ETL_LOCK_TIMEOUT", "0.5")
        get_settings.cache_clear()
        with pytest.raises(engine_state.AssetLocked, match="being materialised by another run"):
            defs.materialize("event_logs")
        assert count(db, "shop.event_logs") == 0

        monkeypatch.setenv("ETL_LOCK_TIMEOUT", "30")
        get_settings.cache_clear()
        released_at: list[float] = []

        def release_soon() -> None:
            time.sleep(1.0)
            released_at.append(time.monotonic())
            engine_state.release_asset_lock(holder, "event_logs")

        threading.Thread(target=release_soon).start()
        run = defs.materialize("event_logs")
        assert run.ok and released_at  # it waited for the lock rather than interleaving
        assert count(db, "shop.event_logs") == 1
    finally:
        get_settings.cache_clear()
        holder.close()


def test_generator_history_with_faults_then_live_updates(db: Any, mongo: Any) -> None:
    from generator.shop import live_updates, write_once

    write_once(mongo, 150, seed=21, dirty=0.1)
    first = defs.materialize("group:shop")
    assert first.ok
    total_read = sum(o.result.documents_read for o in first.outcomes)
    total_rejects = sum(o.result.rejects for o in first.outcomes)
    assert total_read == sum(mongo[c].count_documents({}) for c in mongo.list_collection_names())
    assert total_rejects > 0
    assert count(db, "etl.rejects") == total_rejects

    marks = {
        asset: db.execute(
            "SELECT cursor_value FROM etl.watermarks WHERE asset = %s", [asset]
        ).fetchone()[0]
        for asset in ("support_tickets", "products", "user_sessions")
    }
    live_updates(mongo, 120, seed=4)
    # every run reads what changed after its watermark, plus the cursor anomalies again (no
    # date, not a date: the fault injection makes some, and a live update may repair one)
    anomalous = {"$or": [{"updated_at": {"$exists": False}},
                         {"updated_at": {"$not": {"$type": "date"}}}]}  # fmt: skip
    expected = {
        asset: mongo[coll].count_documents(
            {"updated_at": {"$gt": marks[asset].replace(tzinfo=None)}}
        )
        + mongo[coll].count_documents(anomalous)
        for asset, coll in (
            ("support_tickets", "support_tickets"),
            ("products", "product_price_history"),
            ("user_sessions", "user_sessions"),
        )
    }
    second = defs.materialize("group:shop")
    assert second.ok
    for asset, n in expected.items():
        assert n > 0
        assert second[asset].result.documents_read == n, asset
    third = defs.materialize("group:shop")
    now = datetime.now(UTC).replace(tzinfo=None)
    again = {"$or": [*anomalous["$or"], {"updated_at": {"$gt": now}}]}
    shop = [
        a for a in defs.graph.assets.values() if isinstance(a, TableAsset) and a.group == "shop"
    ]
    anomalies = sum(mongo[a.source].count_documents(again) for a in shop)
    assert sum(o.result.documents_read for o in third.outcomes) == anomalies
    assert sum(o.result.documents_unchanged for o in third.outcomes) == anomalies


def test_a_value_binary_copy_cannot_dump_loads_through_the_text_path(db: Any, mongo: Any) -> None:
    """Binary COPY needs each value in its column's Python type; a transform that returns an
    int for a text column or a naive datetime for a timestamptz one still loads (as text COPY
    writes them), and the rest of the batch too."""
    import dataclasses
    from datetime import datetime

    from etl.engine import Definitions
    from models import shop

    asset = defs.graph.assets["event_logs"]

    def loose(doc: Any) -> Any:
        rows = asset.transform(doc)
        if rows[shop.EventLog]["event_id"] == "evt_00002":
            rows[shop.EventLog]["user_id"] = 42  # an int where the column is text
            rows[shop.EventLog]["occurred_at"] = datetime(2026, 3, 1, 12, 0)  # naive
        return rows

    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in (1, 2, 3)])
    run = Definitions(assets=[dataclasses.replace(asset, transform=loose)]).materialize(
        "event_logs"
    )
    assert run.ok and run["event_logs"].result.rejects == 0
    rows = db.execute(
        "SELECT event_id, user_id, occurred_at AT TIME ZONE 'UTC' FROM shop.event_logs ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == ["evt_00001", "evt_00002", "evt_00003"]
    assert rows[1][1:] == ("42", datetime(2026, 3, 1, 12, 0))


def test_the_loader_only_reads_and_names_a_missing_cursor_index(
    db: Any, mongo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No index is created by a load (the ETL's MongoDB user only reads); an incremental read
    that no (updated_at, _id) index serves is named in a warning, once."""
    import shop_docs

    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in (1, 2)])
    assert defs.materialize("event_logs").ok
    with caplog.at_level("WARNING", logger="etl.engine.load.reading"):
        assert defs.materialize("event_logs").ok  # incremental
        assert defs.materialize("event_logs").ok
    warned = [r.getMessage() for r in caplog.records if "has no index" in r.getMessage()]
    assert len(warned) == 1 and "event_logs" in warned[0] and "createIndex" in warned[0]
    assert [ix["name"] for ix in mongo.event_logs.list_indexes()] == ["_id_"]
    from etl.engine.load.reading import warn_without_cursor_index

    assert not warn_without_cursor_index(mongo.event_logs, "updated_at")
    mongo.event_logs.create_index([("updated_at", 1), ("_id", 1)])  # as the writers do
    assert warn_without_cursor_index(mongo.event_logs, "updated_at")


def test_a_document_deleted_at_the_source_takes_its_rejects_with_it(db: Any, mongo: Any) -> None:
    """A reject keeps the raw document: an erasure at the source must reach `etl.rejects` too
    (and a deleted document's reject is no longer outstanding)."""
    bad = shop_docs.moderation_item(1, rating=9)
    mongo.moderation_queue.insert_many([bad, shop_docs.moderation_item(2)])
    assert defs.materialize("moderation_queue")["moderation_queue"].result.rejects == 1
    assert count(db, "etl.rejects") == 1
    mongo.moderation_queue.delete_one({"_id": bad["_id"]})
    assert defs.materialize("moderation_queue").ok  # the deletes scan
    assert count(db, "etl.rejects") == 0
    assert count(db, "shop.moderation_queue") == 1
