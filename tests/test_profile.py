"""`python -m etl profile`: an inventory of field paths and types, and what the transform reads."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import shop_docs
from typer.testing import CliRunner

from etl.cli import app
from etl.definitions import defs
from etl.engine import TableAsset
from etl.engine.observe.profile import profile_documents

T = datetime(2026, 11, 20, 10, 0)


def inventory(profile: Any) -> dict[str, tuple[int, dict[str, int]]]:
    return {path: (f.documents, dict(f.types)) for path, f in profile.fields.items()}


def test_a_profile_is_the_hand_counted_inventory() -> None:
    docs = [
        {"_id": 1, "a": 1, "b": {"c": "x"}, "items": [{"k": 1}, {"k": "2"}], "updated_at": T},
        {"_id": 2, "a": "one", "items": [], "updated_at": None},
        {"_id": 3, "a": 2.5, "b": {"c": None}, "extra": True},
        {"_id": 4, "a": 7, "updated_at": T + timedelta(days=3650)},
    ]
    profile = profile_documents(docs, "things", now=T + timedelta(days=1))
    assert profile.documents == 4
    assert inventory(profile) == {
        "_id": (4, {"int": 4}),
        "a": (4, {"int": 2, "string": 1, "double": 1}),
        "b": (2, {"object": 2}),
        "b.c": (2, {"string": 1, "null": 1}),
        "items": (2, {"array": 2}),
        "items[]": (1, {"object": 2}),
        "items[].k": (1, {"int": 1, "string": 1}),
        "updated_at": (3, {"date": 2, "null": 1}),
        "extra": (1, {"bool": 1}),
    }
    a = profile.fields["a"]
    assert (a.minimum, a.maximum, a.presence(4)) == (1, 7, 1.0)
    assert a.examples == ["1", "'one'", "2.5"]
    assert profile.fields["updated_at"].maximum == T + timedelta(days=3650)
    assert profile.cursor == Counter({"date": 1, "null": 1, "missing": 1, "future": 1})
    assert profile.unmapped == []  # no asset: nothing is said about reads


def test_reads_are_recorded_through_doc_and_unmapped_fields_and_conflicts_found() -> None:
    asset = defs.graph.assets["support_tickets"]
    assert isinstance(asset, TableAsset)
    clean = [shop_docs.support_ticket(i) for i in (1, 2)]
    profile = profile_documents(clean, "support_tickets", asset)
    assert profile.unmapped == []  # every field of the canonical document is read
    assert {"messages[].sender", "status_history[].changed_at", "created_at"} <= profile.reads
    assert {"_id", "updated_at"} <= profile.reads  # the engine's own reads count
    assert all(profile.fields[path].read for path in profile.reads if path in profile.fields)

    drifted = shop_docs.support_ticket(3, priority="high", created_at="yesterday")
    drifted["messages"][0]["lang"] = "en"
    profile = profile_documents([*clean, drifted], "support_tickets", asset)
    assert sorted(f.path for f in profile.unmapped) == ["messages[].lang", "priority"]
    conflict = profile.conflicts["created_at"]
    assert conflict.documents == 1 and conflict.example_ids == [str(drifted["_id"])]
    assert "is not an ISO-8601 timestamp" in next(iter(conflict.reasons))


def test_a_free_form_subtree_kept_as_json_counts_as_read() -> None:
    asset = defs.graph.assets["event_logs"]
    assert isinstance(asset, TableAsset)
    doc = shop_docs.event_log(1, details={"code": 502, "nested": {"deep": [1, 2]}})
    profile = profile_documents([doc], "event_logs", asset)
    assert profile.fields["details.nested.deep[]"].read
    assert profile.unmapped == []


def test_the_profile_command_prints_json_for_a_collection(mongo: Any) -> None:
    mongo.event_logs.insert_many(
        [shop_docs.event_log(i) for i in range(1, 5)] + [shop_docs.event_log(9, source="app")]
    )
    result = CliRunner().invoke(app, ["profile", "event_logs", "--json"])
    assert result.exit_code == 0, result.output
    (profile,) = json.loads(result.output)
    assert (profile["collection"], profile["asset"], profile["documents"]) == (
        "event_logs", "event_logs", 5,
    )  # fmt: skip
    assert profile["unmapped"] == ["source"]
    event_id = next(f for f in profile["fields"] if f["path"] == "event_id")
    assert event_id["types"] == {"string": 5} and event_id["read"] is True


def test_a_sample_is_a_deterministic_share_of_the_documents(mongo: Any) -> None:
    mongo.event_logs.insert_many([shop_docs.event_log(i, _id=i) for i in range(1, 201)])
    runs = [
        json.loads(
            CliRunner().invoke(app, ["profile", "event_logs", "--json", "--sample", "0.5"]).output
        )[0]["documents"]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]  # the same documents every time (by a hash of their _id)
    assert 60 < runs[0] < 140  # about half of 200 (binomial: outside this is 1 in 10**8)
