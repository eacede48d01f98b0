"""The field inventory, kept on every load: what the documents hold, field by field, run by run.

The loader walks each document it reads (not the ones skipped as unchanged) and counts, per
field path and BSON type, the documents that have it (`inventory`); `save_inventory` adds the
batch's counts to `etl.field_inventory` in the batch's own transaction, so the inventory is
exactly as durable as the rows. Drift is read from it (etl.engine.observe.drift).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import psycopg

from etl.engine.values.bson import bson_type

TYPE_NAMES = {str: "string", float: "double", bool: "bool", dict: "object", list: "array"}


def _walk(value: dict[str, Any], prefix: str, found: set[tuple[str, str]]) -> None:
    for key, child in value.items():
        path = prefix + key
        kind = type(child)
        found.add((path, TYPE_NAMES.get(kind) or bson_type(child)))
        if kind is dict:
            _walk(child, path + ".", found)
        elif kind is list:
            _walk_items(child, path + "[]", found)


def _walk_items(items: list[Any], path: str, found: set[tuple[str, str]]) -> None:
    """Array items: each distinct item type once; objects of one shape (keys and value types,
    as most arrays hold) walked once."""
    kinds = set(map(type, items))  # one C-level pass; most arrays hold one type
    if dict not in kinds:
        for kind in kinds:  # scalars: a type's name depends on the value only for ints
            if kind is int:
                found.update((path, bson_type(item)) for item in items if type(item) is int)
            else:
                found.add((path, TYPE_NAMES.get(kind) or bson_type(_first(items, kind))))
        return
    if len(kinds) == 1:  # objects only: one walk per distinct shape (keys, value types)
        distinct = {(*item, *map(type, item.values())): item for item in items}
        found.add((path, "object"))
        for item in distinct.values():
            _walk(item, path + ".", found)
        return
    shapes: set[tuple[Any, ...]] = set()
    for item in items:
        kind = type(item)
        if kind is dict:
            shape = (*item, *map(type, item.values()))
            if shape in shapes:
                continue
            shapes.add(shape)
            found.add((path, "object"))
            _walk(item, path + ".", found)
        else:
            found.add((path, TYPE_NAMES.get(kind) or bson_type(item)))


def _first(items: list[Any], kind: type) -> Any:
    return next(item for item in items if type(item) is kind)


def inventory(documents: Iterable[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(path, BSON type) -> documents that have it, for `documents`.

    Documents of one source mostly share their top level (the same keys, values of the same
    types): that part is worked out once per shape; only nested objects and arrays are walked
    for every document."""
    counts: Counter[tuple[str, str]] = Counter()
    tops: dict[tuple[Any, ...], tuple[frozenset[tuple[str, str]], tuple[str, ...]]] = {}
    for raw in documents:
        types = tuple(map(type, raw.values()))
        shape = (*raw, *types)
        known = tops.get(shape)
        if known is None:
            top = frozenset((k, TYPE_NAMES.get(type(v)) or bson_type(v)) for k, v in raw.items())
            nested = tuple(k for k, v in raw.items() if type(v) is dict or type(v) is list)
            known = (top, nested)
            if int not in types:  # an int's BSON type (int or long) depends on its value
                tops[shape] = known
        top, nested = known
        if not nested:
            counts.update(top)
            continue
        found = set(top)
        for key in nested:
            child = raw[key]
            if type(child) is dict:
                _walk(child, key + ".", found)
            else:
                _walk_items(child, key + "[]", found)
        counts.update(found)
    return counts


def save_inventory(
    conn: psycopg.Connection, asset: str, run_id: str, counts: Counter[tuple[str, str]]
) -> None:
    """Add a batch's counts, in the caller's transaction (one statement)."""
    if not counts:
        return
    # sorted: workers loading ranges of one asset upsert the same keys; one order, no deadlock
    ordered = sorted(counts.items())
    paths, types, numbers = zip(*((p, t, n) for (p, t), n in ordered), strict=True)
    conn.execute(
        """
        INSERT INTO etl.field_inventory AS f (asset, path, bson_type, documents, first_run,
            first_seen_at, last_run, last_seen_at)
        SELECT %(asset)s, p, t, n, %(run)s, now(), %(run)s, now()
        FROM unnest(%(paths)s::text[], %(types)s::text[], %(numbers)s::bigint[]) AS x(p, t, n)
        ON CONFLICT (asset, path, bson_type) DO UPDATE SET
            documents = f.documents + EXCLUDED.documents,
            last_run = EXCLUDED.last_run, last_seen_at = EXCLUDED.last_seen_at
        """,
        {"asset": asset, "run": run_id, "paths": list(paths), "types": list(types),
         "numbers": list(numbers)},
    )  # fmt: skip
