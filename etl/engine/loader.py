"""Loading one batch of documents for a table asset, inside the caller's transaction.

Per batch, set-based throughout:
1. Hash each raw document (BSON bytes + the transform's code version) and fetch the stored hashes
   of the batch's `_id`s in one query: unchanged documents are skipped before any transform, so
   a re-read of unchanged data rewrites nothing.
2. Transform the rest; coercion errors and the model's rules make one reject per document with
   every reason. A key claimed by two documents is a reject too, never a silent overwrite.
3. Documents whose key and `_id` are both new are COPYed straight into the target tables (the
   common case on a first load). Changed ones are COPYed into temp staging tables and merged:
   upsert parents, replace the touched parents' children.
4. If PostgreSQL still refuses something (a rule only the database knows), the merge is retried
   on halves of the batch inside savepoints until the offending documents are isolated and
   rejected; the rest of the batch loads.
The caller (runner) then writes the watermark and commits: data and watermark together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import bson
import psycopg
from bson import json_util
from psycopg import sql

from etl.engine.coerce import CoercionError, to_datetime, to_id
from etl.engine.document import Doc
from etl.engine.spec import TableAsset
from etl.engine.tables import TableLayout, layout_of

REFUSALS = (psycopg.errors.IntegrityError, psycopg.errors.DataError)
"""What PostgreSQL says about one bad row (constraint, value out of range, NUL byte...)."""
JSON_OPTIONS = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED, tz_aware=False)


@dataclass
class Reject:
    source_id: str | None
    reasons: list[str]
    document: dict[str, Any]


@dataclass
class Prepared:
    """One transformed document, ready for COPY."""

    source_id: str
    key: Any
    raw: dict[str, Any]
    rows: dict[TableLayout, list[tuple[Any, ...]]]


@dataclass
class PreparedBatch:
    """A batch after the pure-Python stage, waiting to be written."""

    read: int
    unchanged: int = 0
    source_ids: list[str] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    """Source ids that already have a row (changed documents, not new ones)."""
    items: dict[Any, Prepared] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class BatchStats:
    read: int = 0
    unchanged: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    rejects: int = 0

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count


class TableLoader:
    """Loads batches for one table asset over one connection (owned by the runner)."""

    def __init__(
        self,
        asset: TableAsset,
        conn: psycopg.Connection,
        run_id: str,
        *,
        track_seen: bool = False,
    ) -> None:
        self.asset = asset
        self.conn = conn
        self.run_id = run_id
        self.parent = layout_of(asset.parent)
        self.children = [layout_of(child, asset.parent) for child in asset.children]
        if len(self.parent.primary_key) != 1:
            raise ValueError(f"{self.parent.qualified}: a parent table needs a one-column key")
        self.key = self.parent.primary_key[0]
        self.hash_key = asset.code_version.encode()[:64]
        self.track_seen = track_seen
        self._staging_ready = False
        if track_seen:
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS seen_source_ids (source_id text PRIMARY KEY)"
            )
            conn.execute("TRUNCATE seen_source_ids")

    # -- the batch --------------------------------------------------------------------------

    def load_batch(self, raws: list[dict[str, Any]], collection: str) -> BatchStats:
        """Prepare and write one batch on this loader's connection (no pipelining)."""
        return self.write(self.prepare(raws, self.conn), collection)

    def prepare(self, raws: list[dict[str, Any]], lookup: psycopg.Connection) -> PreparedBatch:
        """The pure-Python half of a batch: hash, skip unchanged, transform, validate.

        Safe to run in a worker thread on its own `lookup` connection while the previous
        batch is written: a document appears once in a (cursor, _id)-ordered read, so the
        stored hashes it looks up cannot belong to the batch still being written.
        """
        batch = PreparedBatch(read=len(raws))
        identified = self._identify(raws, batch.rejects)
        batch.source_ids = [sid for sid, _, _ in identified]
        stored = self._stored_hashes(lookup, batch.source_ids)
        for sid, digest, raw in identified:
            if sid in stored:
                batch.stored.add(sid)
                if stored[sid] == digest:
                    batch.unchanged += 1
                    continue
            item = self._prepare(sid, digest, raw, batch.rejects)
            if item is None:
                continue
            other = batch.items.get(item.key)
            if other is not None:
                batch.rejects.append(Reject(sid, [self._duplicate(item.key, other.source_id)], raw))
                continue
            batch.items[item.key] = item
        return batch

    def write(self, batch: PreparedBatch, collection: str) -> BatchStats:
        """The database half: key ownership, COPY or merge, rejects; the caller commits."""
        stats = BatchStats(read=batch.read, unchanged=batch.unchanged)
        rejects = batch.rejects
        if self.track_seen:
            self._copy(
                "seen_source_ids", ("source_id",), ((s,) for s in batch.source_ids), conflict=True
            )
        owners = self._owners(list(batch.items))  # on the writing connection: sees this run
        new: list[Prepared] = []
        changed: list[Prepared] = []
        for key, item in batch.items.items():
            owner = owners.get(key)
            if owner is not None and owner != item.source_id:
                rejects.append(Reject(item.source_id, [self._duplicate(key, owner)], item.raw))
            elif owner is None and item.source_id not in batch.stored:
                new.append(item)
            else:
                changed.append(item)
        if new and not self._copy_direct(new, stats):
            changed.extend(new)  # let the staging path find the culprits
        if changed:
            self._merge_staged(changed, stats, rejects)
        stats.rejects = len(rejects)
        self._write_rejects(rejects, collection)
        return stats

    def delete_unseen(self) -> int:
        """After a full refresh: drop parents (and, by cascade, children) whose document is gone."""
        query = sql.SQL(
            "DELETE FROM {t} t WHERE NOT EXISTS "
            "(SELECT 1 FROM seen_source_ids s WHERE s.source_id = t.source_id)"
        ).format(t=self.parent.ident)
        return self.conn.execute(query).rowcount

    # -- steps ------------------------------------------------------------------------------

    def _identify(
        self, raws: Iterable[dict[str, Any]], rejects: list[Reject]
    ) -> list[tuple[str, bytes, dict[str, Any]]]:
        out = []
        for raw in raws:
            try:
                sid = to_id(raw.get("_id"))
            except CoercionError as exc:
                rejects.append(Reject(None, [f"_id: {exc}"], raw))
                continue
            if sid is None:
                rejects.append(Reject(None, ["_id: missing"], raw))
                continue
            out.append((sid, self._digest(raw), raw))
        return out

    def _digest(self, raw: dict[str, Any]) -> bytes:
        try:
            data = bson.encode(raw)
        except (bson.errors.InvalidDocument, TypeError, OverflowError):
            data = repr(sorted(raw.items(), key=lambda kv: str(kv[0]))).encode()
        return hashlib.blake2b(data, digest_size=16, key=self.hash_key).digest()

    def _prepare(
        self, sid: str, digest: bytes, raw: dict[str, Any], rejects: list[Reject]
    ) -> Prepared | None:
        doc = Doc(raw)
        try:
            produced = self.asset.transform(doc)
        except Exception as exc:  # a transform bug must not lose the document
            rejects.append(Reject(sid, [f"transform raised {type(exc).__name__}: {exc}"], raw))
            return None
        errors = doc.errors
        parent_row = produced.get(self.asset.parent)
        if not isinstance(parent_row, dict):
            rejects.append(Reject(sid, [*errors, "transform produced no parent row"], raw))
            return None
        errors.extend(self.parent.validate(parent_row))
        key = parent_row.get(self.key)
        rows: dict[TableLayout, list[tuple[Any, ...]]] = {}
        for child in self.children:
            child_rows = produced.get(child.model) or []
            assert isinstance(child_rows, list)
            out = []
            for i, row in enumerate(child_rows):
                problems = child.validate(row)
                if problems:
                    errors.extend(f"{child.name}[{i}].{problem}" for problem in problems)
                row[child.parent_key] = key  # type: ignore[index]
                out.append(child.to_tuple(row))
            rows[child] = out
        if errors:
            errors.extend(reason for ir in doc.item_rejects for reason in ir.reasons)
            rejects.append(Reject(sid, errors, raw))
            return None
        for ir in doc.item_rejects:  # the document loads; each bad item is its own reject
            context = {"_id": raw.get("_id"), "path": ir.path, "item": ir.item}
            rejects.append(Reject(sid, ir.reasons, context))
        parent_row["source_id"] = sid
        parent_row["source_hash"] = digest
        try:
            parent_row["source_updated_at"] = to_datetime(raw.get(self.asset.cursor))
        except CoercionError:
            parent_row["source_updated_at"] = None
        rows[self.parent] = [self.parent.to_tuple(parent_row)]
        return Prepared(sid, key, raw, rows)

    def _stored_hashes(self, conn: psycopg.Connection, sids: list[str]) -> dict[str, bytes]:
        if not sids:
            return {}
        query = sql.SQL("SELECT source_id, source_hash FROM {t} WHERE source_id = ANY(%s)").format(
            t=self.parent.ident
        )
        return {sid: bytes(h) for sid, h in conn.execute(query, [sids])}

    def _owners(self, keys: list[Any]) -> dict[Any, str]:
        if not keys:
            return {}
        query = sql.SQL("SELECT {k}, source_id FROM {t} WHERE {k} = ANY(%s)").format(
            k=sql.Identifier(self.key), t=self.parent.ident
        )
        return dict(self.conn.execute(query, [keys]).fetchall())

    def _duplicate(self, key: Any, owner: str) -> str:
        return f"{self.key}: {key!r} is already the key of document {owner}"

    # -- writing ----------------------------------------------------------------------------

    def _copy(
        self,
        table: str | sql.Composable,
        columns: Iterable[str],
        rows: Iterable[tuple[Any, ...]],
        *,
        conflict: bool = False,
    ) -> int:
        target = sql.Identifier(table) if isinstance(table, str) else table
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        count = 0
        if conflict:  # COPY cannot skip duplicates: go through a scratch table
            with self.conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS _scratch_ids (source_id text)")
                with cur.copy(sql.SQL("COPY _scratch_ids ({}) FROM STDIN").format(cols)) as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} SELECT DISTINCT source_id FROM _scratch_ids "
                        "ON CONFLICT DO NOTHING"
                    ).format(target)
                )
                cur.execute("TRUNCATE _scratch_ids")
            return count
        with (
            self.conn.cursor() as cur,
            cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)) as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def _copy_direct(self, items: list[Prepared], stats: BatchStats) -> bool:
        """COPY brand-new documents straight into the targets; False if PostgreSQL refused."""
        counts: dict[str, int] = {}
        try:
            with self.conn.transaction():
                for layout in (self.parent, *self.children):
                    counts[layout.qualified] = self._copy(
                        layout.ident,
                        layout.columns,
                        (row for item in items for row in item.rows[layout]),
                    )
        except REFUSALS:
            return False
        for table, count in counts.items():
            stats.add(table, count)
        return True

    def _ensure_staging(self) -> None:
        if self._staging_ready:
            return
        for layout in (self.parent, *self.children):
            self.conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {s} (LIKE {t} INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS"
                ).format(s=layout.stage_ident, t=layout.ident)
            )
        self._staging_ready = True

    def _merge_staged(
        self, items: list[Prepared], stats: BatchStats, rejects: list[Reject]
    ) -> None:
        self._ensure_staging()
        for layout in (self.parent, *self.children):
            self._copy(
                layout.stage_ident, layout.columns, (row for it in items for row in it.rows[layout])
            )
        by_key = {item.key: item for item in items}
        pending: list[list[Any] | None] = [None]  # None: the whole staged batch
        while pending:
            keys = pending.pop()
            try:
                with self.conn.transaction():
                    counts = self._merge(keys)
            except REFUSALS as exc:
                subset = list(by_key) if keys is None else keys
                if len(subset) == 1:
                    item = by_key[subset[0]]
                    reason = (exc.diag.message_primary or str(exc)).strip()
                    rejects.append(
                        Reject(item.source_id, [f"database refused: {reason}"], item.raw)
                    )
                else:
                    half = len(subset) // 2
                    pending.extend([subset[:half], subset[half:]])
                continue
            for table, count in counts.items():
                stats.add(table, count)
        for layout in (self.parent, *self.children):
            self.conn.execute(sql.SQL("TRUNCATE {}").format(layout.stage_ident))

    def _merge(self, keys: list[Any] | None) -> dict[str, int]:
        p = self.parent
        key = sql.Identifier(self.key)
        only = sql.SQL("(%(keys)s::text[] IS NULL OR s.{k} = ANY(%(keys)s))")
        params = {"keys": keys}
        counts: dict[str, int] = {}
        with self.conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "DELETE FROM {t} t USING {s} s WHERE t.source_id = s.source_id "
                    "AND t.{k} <> s.{k} AND {only}"
                ).format(t=p.ident, s=p.stage_ident, k=key, only=only.format(k=key)),
                params,
            )
            assignments = [
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                for c in p.columns
                if c != self.key
            ]
            if p.stamped:
                assignments.append(sql.SQL("loaded_at = now()"))
            updates = sql.SQL(", ").join(assignments)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {t} ({cols}) SELECT {cols} FROM {s} s WHERE {only} "
                    "ON CONFLICT ({k}) DO UPDATE SET {updates}"
                ).format(
                    t=p.ident,
                    s=p.stage_ident,
                    cols=p.column_list(),
                    k=key,
                    only=only.format(k=key),
                    updates=updates,
                ),
                params,
            )
            counts[p.qualified] = cur.rowcount
            for child in self.children:
                fk = sql.Identifier(child.parent_key or "")
                cur.execute(
                    sql.SQL("DELETE FROM {c} c USING {s} s WHERE c.{fk} = s.{k} AND {only}").format(
                        c=child.ident, s=p.stage_ident, fk=fk, k=key, only=only.format(k=key)
                    ),
                    params,
                )
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {c} ({cols}) SELECT {cols} FROM {s} s WHERE {only}"
                    ).format(
                        c=child.ident,
                        s=child.stage_ident,
                        cols=child.column_list(),
                        only=only.format(k=fk),
                    ),
                    params,
                )
                counts[child.qualified] = cur.rowcount
        return counts

    def _write_rejects(self, rejects: list[Reject], collection: str) -> None:
        if not rejects:
            return
        rows = (
            (
                self.run_id,
                self.asset.name,
                collection,
                r.source_id,
                r.reasons,
                json_util.dumps(r.document, json_options=JSON_OPTIONS).replace("\\u0000", ""),
            )
            for r in rejects
        )
        self._copy(
            sql.Identifier("etl", "rejects"),
            ("run_id", "asset", "collection", "source_id", "reasons", "document"),
            rows,
        )
