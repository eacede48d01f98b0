"""Documents as the server's bytes: identity, hash and cursor read without decoding agree with
the decoded document, whatever it holds (hypothesis over extreme BSON values)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import bson
import poison
from bson import DatetimeMS, ObjectId
from bson.raw_bson import RawBSONDocument
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from etl.engine.load.reading import count_anomalies, is_anomaly, read_changed
from etl.engine.values.identity import source_key
from etl.engine.values.raw import date_millis, decoded, document_hash, identify, millis
from etl.services.mongo import RAW_OPTIONS, raw_collection

KEY = b"v1"
VALUES = st.one_of(
    st.sampled_from(poison.EXTREME_VALUES),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.text(max_size=8),
    st.integers(-(2**63), 2**63 - 1),
)
NAMES = st.sampled_from(["updated_at", "a", "updated", "updated_at_x", "é", "x" * 40])
DOCUMENTS = st.dictionaries(NAMES, VALUES, max_size=6)


def raw(doc: dict[str, Any]) -> RawBSONDocument:
    return RawBSONDocument(bson.encode(doc), RAW_OPTIONS)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    body=DOCUMENTS, nested=DOCUMENTS, id_=st.one_of(st.builds(ObjectId), st.integers(), st.text())
)
@example(body={"updated_at": DatetimeMS(2**62)}, nested={}, id_=ObjectId())  # past year 9999
@example(body={"updated_at": DatetimeMS(-(2**62))}, nested={}, id_=1)  # before year 1
def test_identity_hash_and_cursor_from_the_bytes_equal_the_decoded_documents(
    body: dict[str, Any], nested: dict[str, Any], id_: Any
) -> None:
    doc = {"_id": id_, **body, "inner": {**nested, "updated_at": datetime(2030, 1, 1)}}
    if not poison.encodable(doc):
        return
    as_read = raw(doc)
    plain = decoded(as_read)
    assert identify(as_read, KEY)[0] == source_key(plain["_id"])
    if bson.encode(plain) == as_read.raw:  # it survives a round trip: the hashes agree
        assert document_hash(as_read, KEY) == document_hash(plain, KEY)
    # the cursor is read from the top level only (a nested updated_at is not it)
    assert date_millis(as_read, "updated_at") == date_millis(plain, "updated_at")
    bound = datetime(2026, 1, 1)
    expected = is_anomaly(plain.get("updated_at"), bound)
    assert count_anomalies([as_read], "updated_at", bound, cursor_ordered=False) == expected


CURSORS = st.one_of(
    st.none(),
    st.just("missing"),
    st.text(max_size=3),
    st.integers(-5, 5),
    st.booleans(),
    st.builds(lambda d: datetime(2026, 1, 1) + timedelta(minutes=d), st.integers(-100, 100)),
    st.builds(bson.Timestamp, st.integers(0, 5), st.integers(0, 5)),
)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cursors=st.lists(CURSORS, max_size=30), size=st.integers(1, 12))
def test_anomalies_of_a_server_ordered_read_are_counted_exactly(
    mongo: Any, cursors: list[Any], size: int
) -> None:
    """The prefix/suffix shortcut of `count_anomalies` against a per-document count, over
    documents sorted by the server (every BSON type a cursor may hold, dates on both sides of
    the bound)."""
    mongo.drop_collection("docs")
    docs = [{} if c == "missing" else {"updated_at": c} for c in cursors]
    if docs:
        mongo.docs.insert_many(docs)
    read, _ = read_changed(raw_collection(mongo, "docs"), "updated_at", None)
    ordered = list(read)
    bound = datetime(2026, 1, 1)
    for start in range(0, len(ordered), size):
        batch = ordered[start : start + size]
        exact = sum(is_anomaly(decoded(d).get("updated_at"), bound) for d in batch)
        assert count_anomalies(batch, "updated_at", bound, cursor_ordered=True) == exact


def test_millis_of_the_bounds() -> None:
    assert millis(datetime(1970, 1, 1, 0, 0, 1)) == 1000
    assert millis(datetime.max) > 0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(id_=st.one_of(st.builds(ObjectId), st.sampled_from(poison.EXTREME_VALUES)), body=DOCUMENTS)
def test_identify_from_the_bytes_equals_source_key_and_hash_of_the_decoded_document(
    id_: Any, body: dict[str, Any]
) -> None:
    doc = {"_id": id_, **body}
    if not poison.encodable(doc):
        return
    as_read = raw(doc)
    plain = decoded(as_read)
    sid, digest = identify(as_read, KEY)
    assert sid == source_key(plain["_id"])
    assert digest == document_hash(as_read, KEY)
    if bson.encode(plain) == as_read.raw:
        assert identify(plain, KEY) == (sid, digest)
