"""The benchmark's documents: user_sessions-shaped (nested pages and actions, as the generator
makes them), made lazily from a seed so memory does not grow with N, with deterministic `_id`s
so a second pass sees the very same documents; as dicts, as raw BSON, in the order the server's
read returns them, and as a `RangeSource` for partitioned loads."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import bson
from bson import ObjectId
from bson.raw_bson import RawBSONDocument

from etl.engine.values.ranges import IdRange
from etl.engine.values.watermark import Watermark
from etl.services.mongo import RAW_OPTIONS

PAGES = ("/", "/search", "/cart", "/checkout", "/account", "/help")
ACTIONS = ("view", "click", "add_to_cart", "remove_from_cart", "search", "checkout", "purchase")
DEVICES = (
    ("desktop", "Windows", "Chrome"),
    ("mobile", "iOS", "Safari"),
    ("tablet", "Android", "Chrome"),
)
EPOCH = datetime(2026, 1, 1)
TABLES = ("shop.user_sessions", "shop.session_pages", "shop.session_actions")


TEMPLATES = 5_000


def session_documents(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """N user_sessions documents as dicts, lazily; the same (n, seed) gives the same documents.

    Bodies come from a pool of random templates and each document gets its own ids, so making
    one costs about a microsecond: the timings below are the load path's, not the generator's.
    """
    templates = list(_templates(min(n, TEMPLATES), seed))
    for i in range(n):
        yield _document(i, templates)


def raw_session_documents(n: int, seed: int = 42) -> Iterator[RawBSONDocument]:
    """The same documents as a server sends them: BSON bytes (`RawBSONDocument`), the form the
    loader reads (etl.engine.values.raw), in `_id` order. Each is spliced from its template's
    encoded body and its own ids, so making one still costs about a microsecond; the bytes equal
    `bson.encode` of the dict `session_documents` gives."""
    bodies = [bson.encode(t)[4:-1] for t in _templates(min(n, TEMPLATES), seed)]
    for i in range(n):
        yield _raw_document(i, bodies)


def raw_sessions_as_read(n: int, seed: int = 42) -> Iterator[RawBSONDocument]:
    """`raw_session_documents` in the order a load's read returns them: (updated_at, `_id`).
    Document i is made from template i mod T, so each template's documents are already in
    `_id` order; templates are taken by their `updated_at`, and those sharing one are merged."""
    templates = list(_templates(min(n, TEMPLATES), seed))
    bodies = [bson.encode(t)[4:-1] for t in templates]
    count = len(templates)
    by_cursor: dict[datetime, list[int]] = {}
    for t, template in enumerate(templates):
        by_cursor.setdefault(template["updated_at"], []).append(t)
    for _, group in sorted(by_cursor.items()):
        ids = (
            range(group[0], n, count)
            if len(group) == 1
            else heapq.merge(*(range(t, n, count) for t in group))
        )
        for i in ids:
            yield _raw_document(i, bodies)


def _document(i: int, templates: list[dict[str, Any]]) -> dict[str, Any]:
    return {"_id": doc_id(i), **templates[i % len(templates)], "session_id": _session_id(i)}


def _raw_document(i: int, bodies: list[bytes]) -> RawBSONDocument:
    body = bodies[i % len(bodies)]
    data = b"".join(
        (
            (len(body) + 53).to_bytes(4, "little"),  # 4 + _id (17) + body + session_id (31) + 1
            b"\x07_id\x00",
            i.to_bytes(12, "big"),  # doc_id(i)
            body,
            b"\x02session_id\x00\x0f\x00\x00\x00sess_%09d\x00" % i,  # _session_id(i)
            b"\x00",
        )
    )
    return RawBSONDocument(data, RAW_OPTIONS)


def _session_id(i: int) -> str:
    return f"sess_{i:09d}"


def doc_id(i: int) -> ObjectId:
    """Document i's `_id`: increasing with i, so a range of ids is a range of documents."""
    return ObjectId(i.to_bytes(12, "big"))


class SessionRanges:
    """The benchmark's documents as a `RangeSource` (etl.engine.snapshots.mongo_ranges): a
    partitioned load reads the same documents as the single-process passes, split by `_id`."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.templates = list(_templates(min(n, TEMPLATES), seed))
        self.bodies = [bson.encode(t)[4:-1] for t in self.templates]

    def split(self, collection: str, parts: int) -> list[IdRange]:
        cuts = [self.n * j // parts for j in range(parts + 1)]
        return [
            IdRange(j, doc_id(cuts[j]) if j else None,
                    doc_id(cuts[j + 1]) if j < parts - 1 else None, cuts[j + 1] - cuts[j])
            for j in range(parts)
        ]  # fmt: skip

    def read(
        self, collection: str, id_range: IdRange, after: tuple[Any] | None
    ) -> Iterator[RawBSONDocument]:
        start = _index(id_range.lower) if id_range.lower is not None else 0
        if after is not None:
            start = max(start, _index(after[0]) + 1)
        stop = _index(id_range.upper) if id_range.upper is not None else self.n
        for i in range(start, stop):
            yield _raw_document(i, self.bodies)

    def ids(self, collection: str) -> Iterator[Any]:
        return (doc_id(i) for i in range(self.n))

    def find_ids(self, collection: str, ids: list[Any]) -> Iterator[RawBSONDocument]:
        return (_raw_document(_index(i), self.bodies) for i in ids if _index(i) < self.n)

    def high_water(self, collection: str, cursor: str, bound: datetime) -> Watermark | None:
        k = len(self.templates)

        def last(t: int) -> int:  # the last document made from template t
            return t + (self.n - 1 - t) // k * k

        best = max(range(k), key=lambda t: (self.templates[t][cursor], last(t)))
        return Watermark(self.templates[best][cursor], doc_id(last(best)))


def _index(oid: ObjectId) -> int:
    return int.from_bytes(oid.binary, "big")


def _templates(count: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        start = EPOCH + timedelta(seconds=rng.randrange(0, 300 * 86400))
        minutes = rng.randint(1, 90)
        device = rng.choice(DEVICES)
        pages = [
            f"/product/P{rng.randrange(5000):05d}" if rng.random() < 0.6 else rng.choice(PAGES)
            for _ in range(rng.randint(1, 7))
        ]
        actions = [
            {
                "type": rng.choice(ACTIONS),
                "target": f"P{rng.randrange(5000):05d}",
                "time": start + timedelta(seconds=rng.randrange(0, minutes * 60)),
            }
            for _ in range(rng.randint(0, 7))
        ]
        actions.sort(key=itemgetter("time"))
        yield {
            "user_id": f"U{rng.randrange(50_000):06d}",
            "start_time": start,
            "end_time": start + timedelta(minutes=minutes),
            "pages_visited": pages,
            "device": {"type": device[0], "os": device[1], "browser": device[2]},
            "actions": actions,
            "updated_at": start + timedelta(minutes=minutes),
        }


def flatten(doc: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows a hand-written, validation-free loader would COPY (the ceiling's input)."""
    sid = doc["session_id"]
    device = doc["device"]
    return {
        "shop.user_sessions": [
            (
                str(doc["_id"]),
                doc["updated_at"],
                b"",
                sid,
                doc["user_id"],
                doc["start_time"],
                doc["end_time"],
                device["type"],
                device["os"],
                device["browser"],
            )
        ],
        "shop.session_pages": [(sid, i, p) for i, p in enumerate(doc["pages_visited"])],
        "shop.session_actions": [
            (sid, i, a["type"], a["target"], a["time"]) for i, a in enumerate(doc["actions"])
        ],
    }
