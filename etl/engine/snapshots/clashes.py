"""Business-key clashes of a partitioned first load, settled as one reader would settle them.

Two documents that claim one business key (two sessions with one `session_id`) are a reject
either way: the first loads, the other is rejected naming it. One reader takes the documents in
(cursor, `_id`) order, so "first" means first in that order. Ranges read in `_id` order and at
the same time, so there the first *written* wins, and a clash between two ranges in flight is
refused by the unique index instead ("database refused: duplicate key").

So when every range is done, `settle_clashes` looks at the documents of this snapshot rejected
for a clash (reject code `key_clash`, whichever of the two ways found it), re-reads them and
the documents owning their keys from MongoDB, and orders each group as one reader would: if a
rejected document comes first, it takes the key (the owner's rows are removed and it is
rejected instead); every loser's reject names the winner with the reason one reader gives.
The result is the single-process result, clash for clash.

Only a first load is settled this way: over tables loaded before, the stored document keeps its
key in both paths already (a newcomer is rejected).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from bson import Decimal128, ObjectId
from bson.binary import Binary
from bson.int64 import Int64
from psycopg import sql

from etl.engine.load.loader import TableLoader
from etl.engine.load.rejects import Reject, RejectCode
from etl.engine.values.identity import parse_source_key, source_key
from etl.engine.values.ranges import RangeSource
from etl.engine.values.raw import decoded
from etl.engine.values.results import AssetResult


def bson_order(value: Any, missing: bool = False) -> tuple[Any, ...]:
    """A sort key that orders values as MongoDB sorts them (type brackets first)."""
    if missing or value is None:
        return (1,)
    if isinstance(value, bool):
        return (8, value)
    if isinstance(value, int | float | Int64 | Decimal128):
        number = value.to_decimal() if isinstance(value, Decimal128) else value
        return (2, float(number))
    if isinstance(value, str):
        return (3, value.encode("utf-8", "surrogateescape"))
    if isinstance(value, dict):
        return (4, repr(sorted(value.items(), key=lambda kv: str(kv[0]))))
    if isinstance(value, list):
        return (5, repr(value))
    if isinstance(value, bytes | Binary | uuid.UUID):
        return (6, bytes(value.bytes if isinstance(value, uuid.UUID) else value))
    if isinstance(value, ObjectId):
        return (7, value.binary)
    if isinstance(value, datetime):
        return (9, value.replace(tzinfo=None))
    return (10, repr(value))


def reading_order(raw: dict[str, Any], cursor: str) -> tuple[Any, ...]:
    """Where one reader of the whole collection meets `raw`: (cursor, `_id`) order."""
    return (*bson_order(raw.get(cursor), cursor not in raw), *bson_order(raw.get("_id")))


def settle_clashes(
    loader: TableLoader,
    ranges: RangeSource,
    run_id: str,
    lookup: psycopg.Connection,
    result: AssetResult,
) -> int:
    """Settle the clashes of run `run_id` (see the module docstring), in `loader`'s open
    transaction; returns how many keys changed hands. `result` gets the rows written/removed."""
    conn, asset = loader.conn, loader.asset
    parent = loader.parent
    rejected = [
        sid
        for (sid,) in conn.execute(
            sql.SQL(
                "SELECT DISTINCT r.source_id FROM etl.rejects r WHERE r.run_id = %s "
                "AND r.asset = %s AND r.source_id IS NOT NULL "
                "AND r.code = %s "
                "AND NOT EXISTS (SELECT 1 FROM {t} t WHERE t.source_id = r.source_id)"
            ).format(t=parent.ident),
            [run_id, asset.name, RejectCode.KEY_CLASH.value],
        )
    ]
    challengers = _documents(ranges, asset.source, rejected)
    keyed = [(loader.key_of(raw), raw) for raw in challengers]
    keyed = [(k, raw) for k, raw in keyed if k is not None]
    if not keyed:
        return 0
    owners: dict[Any, str] = dict(
        conn.execute(
            sql.SQL("SELECT {k}, source_id FROM {t} WHERE {k} = ANY(%s)").format(
                k=sql.Identifier(loader.key), t=parent.ident
            ),
            [list({k for k, _ in keyed})],
        ).fetchall()
    )
    owner_docs = {
        source_key(d["_id"]): d for d in _documents(ranges, asset.source, owners.values())
    }
    groups: dict[Any, list[dict[str, Any]]] = {}
    for key, raw in keyed:
        groups.setdefault(key, []).append(raw)
    moved, rejects = 0, []
    for key, docs in groups.items():
        owner = owner_docs.get(owners.get(key, ""))
        members = [*docs, *([owner] if owner is not None else [])]
        members.sort(key=lambda raw: reading_order(raw, asset.cursor))
        winner, losers = members[0], members[1:]
        winner_sid = source_key(winner["_id"])
        if winner is not owner:  # the key changes hands (or has no row yet)
            if owner is not None:
                _remove(loader, key, result)
            prepared = loader.prepare([winner], lookup)
            stats = loader.write(prepared, asset.source)
            for table, count in stats.rows.items():
                result.add_rows(table, count)
            moved += 1
        reason = loader.duplicate_reason(key, winner_sid)
        rejects += [
            Reject(source_key(raw["_id"]), [reason], raw, RejectCode.KEY_CLASH) for raw in losers
        ]
    said = {
        (sid, tuple(reasons))
        for sid, reasons in conn.execute(
            "SELECT source_id, reasons FROM etl.rejects WHERE run_id = %s AND asset = %s "
            "AND source_id = ANY(%s)",
            [run_id, asset.name, [r.source_id for r in rejects]],
        )
    }
    new = [r for r in rejects if (r.source_id, tuple(r.reasons)) not in said]  # not said twice
    result.rejects += sum(1 for r in new if r.source_id not in rejected)  # displaced owners
    loader.record_rejects(new, asset.source)
    return moved


def _documents(ranges: RangeSource, collection: str, sids: Iterable[str]) -> list[dict[str, Any]]:
    ids = []
    for sid in sids:
        ok, value = parse_source_key(sid)
        if ok:
            ids.append(value)
    return [decoded(doc) for doc in ranges.find_ids(collection, ids)] if ids else []


def _remove(loader: TableLoader, key: Any, result: AssetResult) -> None:
    """Delete the parent row of `key` and its children (by cascade), counting them off."""
    conn = loader.conn
    for child in loader.children:
        query = sql.SQL("SELECT count(*) FROM {c} WHERE {fk} = %s").format(
            c=child.ident, fk=sql.Identifier(child.parent_key or "")
        )
        row = conn.execute(query, [key]).fetchone()
        result.add_rows(child.qualified, -int(row[0]) if row else 0)
    conn.execute(
        sql.SQL("DELETE FROM {t} WHERE {k} = %s").format(
            t=loader.parent.ident, k=sql.Identifier(loader.key)
        ),
        [key],
    )
    result.add_rows(loader.parent.qualified, -1)
