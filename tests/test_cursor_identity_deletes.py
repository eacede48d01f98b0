"""Cursor anomalies, exact identity, run records that tell the truth, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import shop_docs
from bson import ObjectId

from etl.definitions import defs
from etl.engine.bookkeeping.records import mark_interrupted
from etl.engine.observe.reconcile import reconcile
from etl.services.mongo import read_collection


def count(db: psycopg.Connection, table: str, where: str = "true") -> int:
    row = db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    assert row is not None
    return int(row[0])


def test_cursor_anomalies_are_loaded_counted_and_never_freeze_the_watermark(
    db: psycopg.Connection, mongo: Any
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 4)])
    assert defs.materialize("event_logs").ok
    missing = shop_docs.event_log(4)
    del missing["updated_at"]
    anomalies = [
        missing,
        shop_docs.event_log(5, updated_at=None),  # type: ignore[arg-type]
        shop_docs.event_log(6, updated_at="2026-11-02T08:00:00Z"),  # type: ignore[arg-type]
        shop_docs.event_log(7, updated_at=datetime(3000, 1, 1)),
    ]
    mongo.event_logs.insert_many(anomalies)
    run = defs.materialize("event_logs")
    result = run["event_logs"].result
    assert (result.documents_read, result.cursor_anomalies, result.rejects) == (4, 4, 0)
    assert count(db, "shop.event_logs") == 7
    (mark,) = db.execute(
        "SELECT cursor_value FROM etl.watermarks WHERE asset = 'event_logs'"
    ).fetchone()
    assert mark <= datetime.now(UTC)  # the year-3000 document did not move it
    (recorded,) = db.execute(
        "SELECT cursor_anomalies FROM etl.asset_runs WHERE run_id = %s", [run.run_id]
    ).fetchone()
    assert recorded == 4
    # a normal document written afterwards is seen; the anomalies are re-read, unchanged
    now = datetime.now(UTC).replace(tzinfo=None)
    mongo.event_logs.insert_one(shop_docs.event_log(8, updated_at=now))
    later = defs.materialize("event_logs")["event_logs"].result
    assert later.documents_read == 5 and later.documents_unchanged == 4
    assert later.cursor_anomalies == 4 and later.total_rows == 1
    assert count(db, "shop.event_logs") == 8
    # an anomaly that changes is picked up by an ordinary run
    mongo.event_logs.update_one({"event_id": "evt_00005"}, {"$set": {"event_type": "login"}})
    assert defs.materialize("event_logs")["event_logs"].result.total_rows == 1
    assert count(db, "shop.event_logs", "event_id = 'evt_00005' AND event_type = 'login'") == 1


def test_ids_that_print_alike_are_different_documents(db: psycopg.Connection, mongo: Any) -> None:
    oid = ObjectId()
    docs = [
        shop_docs.event_log(1, _id=oid),
        shop_docs.event_log(2, _id=str(oid)),
        shop_docs.event_log(3, _id=77),
        shop_docs.event_log(4, _id="77"),
    ]
    mongo.event_logs.insert_many(docs)
    assert defs.materialize("event_logs").ok
    ids = [r[0] for r in db.execute("SELECT source_id FROM shop.event_logs ORDER BY event_id")]
    assert ids == [str(oid), f"str:{oid}", "int:77", "str:77"]
    # deleting one of a look-alike pair removes only its own rows
    mongo.event_logs.delete_one({"_id": "77"})
    mongo.event_logs.update_one({"_id": 77}, {"$set": {"event_type": "login"}})
    run = defs.materialize("event_logs", full_refresh=True)
    assert run["event_logs"].result.rows_deleted == 1
    rows = db.execute("SELECT event_id, event_type FROM shop.event_logs ORDER BY 1").fetchall()
    assert rows == [("evt_00001", "error"), ("evt_00002", "error"), ("evt_00003", "login")]


def test_a_business_key_clash_is_a_reject_naming_both_ids(
    db: psycopg.Connection, mongo: Any
) -> None:
    first = shop_docs.event_log(1, _id=77)
    mongo.event_logs.insert_one(first)
    assert defs.materialize("event_logs").ok
    clash = shop_docs.event_log(1, _id="77", updated_at=shop_docs.T0 + timedelta(hours=1))
    mongo.event_logs.insert_one(clash)
    run = defs.materialize("event_logs")
    assert run["event_logs"].result.rejects == 1
    (reasons,) = db.execute("SELECT reasons FROM etl.rejects WHERE source_id = 'str:77'").fetchone()
    assert reasons == ["event_id: 'evt_00001' is already the key of document int:77"]
    assert db.execute("SELECT source_id FROM shop.event_logs").fetchall() == [("int:77",)]


def test_a_dead_runs_record_reads_interrupted(db: psycopg.Connection, migrated: str) -> None:
    dead = psycopg.connect(migrated, autocommit=True)
    (dead_pid,) = dead.execute("SELECT pg_backend_pid()").fetchone()  # type: ignore[misc]
    db.execute(
        "INSERT INTO etl.asset_runs (run_id, asset, status, full_refresh, started_at,"
        " documents_read, documents_unchanged, rows_written, rows_deleted, rejects, backend_pid)"
        " VALUES ('r-dead', 'event_logs', 'running', false, now(), 0, 0, '{}', 0, 0, %s),"
        "        ('r-live', 'products', 'running', false, now(), 0, 0, '{}', 0, 0,"
        "         pg_backend_pid())",
        [dead_pid],
    )
    db.execute("SELECT pg_advisory_lock(hashtextextended('etl.asset:products', 0))")
    try:
        dead.close()  # as if its process were killed: the backend ends, the lock is gone
        for _ in range(50):
            alive = db.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [dead_pid])
            if alive.fetchone() is None:
                break
        from etl.engine.observe.status import asset_status

        seen = {r["asset"]: r["status"] for r in asset_status(db, defs.graph)}
        assert (seen["event_logs"], seen["products"]) == ("interrupted", "running")
        stored = db.execute("SELECT status FROM etl.asset_runs WHERE run_id = 'r-dead'")
        assert stored.fetchone() == ("running",)  # status only reads; the next run marks it
        assert mark_interrupted(db) == 1
        statuses = dict(db.execute("SELECT run_id, status FROM etl.asset_runs").fetchall())
        assert statuses == {"r-dead": "interrupted", "r-live": "running"}
    finally:
        db.execute("SELECT pg_advisory_unlock(hashtextextended('etl.asset:products', 0))")


def test_reconcile_finds_each_difference_and_none_after_a_clean_run(
    db: psycopg.Connection, mongo: Any, migrated: str
) -> None:
    asset = defs.graph.assets["support_tickets"]

    def compare() -> Any:
        with psycopg.connect(migrated) as conn:  # as the ETL's login
            return reconcile(conn, asset, read_collection(mongo, "support_tickets").find({}))

    docs = [shop_docs.support_ticket(i) for i in range(1, 7)]
    docs.append(shop_docs.support_ticket(7, status="lost"))  # rejected
    mongo.support_tickets.insert_many(docs)
    assert defs.materialize("support_tickets").ok
    clean = compare()
    assert clean.ok
    assert (clean.documents, clean.rows, clean.loaded, clean.rejected) == (7, 6, 6, 1)

    db.execute("DELETE FROM shop.support_tickets WHERE ticket_id = 'T00001'")  # lost row
    mongo.support_tickets.update_one({"ticket_id": "T00002"}, {"$set": {"status": "closed"}})
    mongo.support_tickets.delete_one({"ticket_id": "T00003"})  # gone from the source
    db.execute("UPDATE shop.support_tickets SET source_hash = 'x' WHERE ticket_id = 'T00004'")
    found = compare()
    assert not found.ok
    ids = {d["ticket_id"]: str(d["_id"]) for d in docs}
    assert (found.missing, found.stale, found.extra, found.rejected) == (1, 2, 1, 1)
    assert found.examples["missing"] == [ids["T00001"]]
    assert found.examples["stale"] == sorted([ids["T00002"], ids["T00004"]])
    assert found.examples["extra"] == [ids["T00003"]]

    assert defs.materialize("support_tickets", full_refresh=True).ok
    repaired = compare()
    assert repaired.ok and repaired.rejected == 1 and repaired.rows == 5


def test_a_batch_ending_in_the_future_still_moves_the_watermark_to_its_last_real_date(
    db: psycopg.Connection, mongo: Any
) -> None:
    later = shop_docs.T0 + timedelta(hours=1)
    mongo.event_logs.insert_many([
        shop_docs.event_log(1),
        shop_docs.event_log(2, updated_at=later),
        shop_docs.event_log(3, updated_at=datetime(3000, 1, 1)),
    ])  # fmt: skip
    assert defs.materialize("event_logs").ok
    (mark,) = db.execute(
        "SELECT cursor_value FROM etl.watermarks WHERE asset = 'event_logs'"
    ).fetchone()
    assert mark == later.replace(tzinfo=UTC)
    again = defs.materialize("event_logs")["event_logs"].result
    assert (again.documents_read, again.cursor_anomalies) == (1, 1)  # only the future one
