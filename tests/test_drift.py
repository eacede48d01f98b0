"""Schema drift tracked on every load: new fields and types, once, with counts and first run."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import shop_docs

from etl.definitions import defs
from etl.engine.bookkeeping import records as engine_state
from etl.engine.observe.drift import drift
from etl.engine.observe.status import asset_status

LATER = shop_docs.T0 + timedelta(hours=1)


def drifted_event(n: int, **over: Any) -> dict[str, Any]:
    return shop_docs.event_log(n, updated_at=LATER, client={"app_version": "5.1"}, **over)


def kinds(found: list[Any]) -> dict[tuple[str, str], tuple[str, int]]:
    return {(d.path, d.bson_type): (d.kind, d.documents) for d in found}


def test_a_new_field_and_a_type_change_are_reported_once_with_counts_and_first_run(
    db: psycopg.Connection, mongo: Any, tmp_path: Path
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i, user_id=f"U{i}") for i in (1, 2, 3)])
    first = defs.materialize("event_logs")
    assert drift(db, "event_logs") == []  # the first load is the baseline, not drift
    (ids,) = db.execute(
        "SELECT documents FROM etl.field_inventory WHERE asset = 'event_logs' AND path = '_id'"
    ).fetchone()
    assert ids == 3

    mongo.event_logs.insert_many([drifted_event(4, user_id="U4"), drifted_event(5, user_id=5)])
    # a known field holding null is a missing value, not a new shape; a new field is drift
    # whatever it holds (status and `drift` count the same things)
    mongo.event_logs.insert_one(drifted_event(7, user_id=None, coupon=None))
    second = defs.materialize("event_logs")
    found = drift(db, "event_logs")
    assert kinds(found) == {
        ("client", "object"): ("new field", 3),
        ("client.app_version", "string"): ("new field", 3),
        ("coupon", "null"): ("new field", 1),
        ("user_id", "int"): ("new type", 1),
    }
    assert {d.first_run for d in found} == {second.run_id} != {first.run_id}
    assert drift(db, run_id=second.run_id) == found
    status = {r["asset"]: r for r in asset_status(db, defs.graph)}
    assert status["event_logs"]["drift"] == len(found) == 4

    mongo.event_logs.insert_one(drifted_event(6, user_id="U6"))
    third = defs.materialize("event_logs")
    again = drift(db, "event_logs")  # reported once, counts grow, first run stays
    assert kinds(again)[("client.app_version", "string")] == ("new field", 4)
    assert {d.first_run for d in again} == {second.run_id}
    assert drift(db, run_id=third.run_id) == []
    app_version = next(d for d in again if d.path == "client.app_version")
    assert app_version.presence == pytest.approx(4 / 7)
    assert app_version.column() == "app_version: str | None = Text()"

    from etl.report import build_report

    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert "<h2>Schema drift</h2>" in page and "client.app_version" in page
    assert (  # in the warning colour, not the one of a good finding
        '<p class="headline warning">4 new field(s) or type(s) since the first loads</p>' in page
    )


def test_the_inventory_commits_with_the_rows_or_not_at_all(
    db: psycopg.Connection, mongo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(1)])
    assert defs.materialize("event_logs").ok
    before = db.execute("SELECT * FROM etl.field_inventory ORDER BY 1, 2, 3").fetchall()
    mongo.event_logs.insert_one(drifted_event(2))

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected after the batch, before its commit")

    monkeypatch.setattr("etl.engine.load.incremental.save_watermark", explode)
    assert not defs.materialize("event_logs").ok
    assert db.execute("SELECT * FROM etl.field_inventory ORDER BY 1, 2, 3").fetchall() == before
    monkeypatch.setattr("etl.engine.load.incremental.save_watermark", engine_state.save_watermark)
    assert defs.materialize("event_logs").ok
    assert {d.path for d in drift(db, "event_logs")} == {"client", "client.app_version"}


def test_drift_is_a_warning_of_the_check_task_never_a_failure(
    db: psycopg.Connection, mongo: Any
) -> None:
    from dags.tasks import AssetTasks

    mongo.event_logs.insert_many([shop_docs.event_log(1)])
    assert defs.materialize("event_logs").ok
    mongo.event_logs.insert_one(drifted_event(2))
    run = defs.materialize("event_logs")
    heard: list[str] = []

    class Listener(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            heard.append(record.getMessage())

    logger = logging.getLogger("dags.tasks")  # listen directly: Airflow's logging setup
    listener = Listener(logging.WARNING)  # may keep records from reaching the root logger
    logger.addHandler(listener)
    try:
        outcome = AssetTasks(defs).run_checkpoint(
            "event_logs", params={}, dag_run=SimpleNamespace(run_id=run.run_id)
        )
    finally:
        logger.removeHandler(listener)
    assert outcome["suites"] == 1  # returned: nothing blocked
    warnings = [message for message in heard if message.startswith("warning: drift: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: drift: 2 new field(s) or type(s) in event_logs")
    assert outcome["warnings"] >= 1 and "drift: 2 new field(s)" in outcome["note"]


def test_the_generator_drifts_on_request(mongo: Any) -> None:
    from generator.shop import live_updates, write_once

    write_once(mongo, 30, seed=2)
    live_updates(mongo, 200, seed=3, drift=True)
    events = list(mongo.event_logs.find({"client": {"$exists": True}}))
    assert events and all(e["client"]["app_version"].startswith("5.") for e in events)
    assert any(isinstance(e.get("user_id"), int) for e in events)


def test_the_inventory_counts_documents_per_path_and_type_exactly() -> None:
    from etl.engine.load.inventory import inventory

    docs = [
        {"_id": 1, "n": 5, "tags": ["a", "b"], "o": {"x": 1}},
        {"_id": 2, "n": 2**40, "tags": [], "o": {"x": None}},
        {"_id": 3, "n": "7", "items": [{"k": 1}, {"k": 1}, {"k": "s"}]},
        {"_id": 4, "n": 5, "tags": ["a", 1], "o": {"x": 1}},
    ]
    assert inventory(docs) == {
        ("_id", "int"): 4,
        ("n", "int"): 2, ("n", "long"): 1, ("n", "string"): 1,
        ("tags", "array"): 3, ("tags[]", "string"): 2, ("tags[]", "int"): 1,
        ("o", "object"): 3, ("o.x", "int"): 2, ("o.x", "null"): 1,
        ("items", "array"): 1, ("items[]", "object"): 1,
        ("items[].k", "int"): 1, ("items[].k", "string"): 1,
    }  # fmt: skip


def test_a_new_field_is_suggested_as_the_model_column_it_would_become() -> None:
    from etl.engine.observe.drift import suggest_column

    assert suggest_column("client.app_version", ["string"], 0.4) == (
        "app_version: str | None = Text()"
    )
    assert suggest_column("score", ["int", "double"], 1.0) == "score: float = Field()"
    assert suggest_column("seen", ["date", "null"], 1.0) == "seen: datetime | None = Timestamp()"
    assert suggest_column("tags[]", ["string"], 1.0) == "tags: str = Text()"
    assert suggest_column("meta", ["object"], 0.9) == "meta: dict[str, Any] | None = Json()"
