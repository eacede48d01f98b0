"""Loading one batch of documents for a table asset, inside the caller's transaction.

Per batch, set-based throughout:
1. Hash each raw document (BSON bytes + the transform's code version) and fetch the stored hashes
   of the batch's `_id`s in one query: unchanged documents are skipped before any transform, so
   a re-read of unchanged data rewrites nothing.
2. Transform the rest; coercion errors, the model's rules and the column guards (what PostgreSQL
   would refuse or silently alter: etl.engine.values.guards) make one reject per document with every
   reason. A key claimed by two documents is a reject too, never a silent overwrite.
3. Documents whose key and `_id` are both new are COPYed straight into the target tables (the
   common case on a first load). Changed ones are COPYed into temp staging tables and merged:
   upsert parents, replace the touched parents' children.
4. Every statement of step 3 runs inside one savepoint. If PostgreSQL (or the driver) still
   refuses something, the savepoint is rolled back and the documents are retried in halves
   until the offending ones are isolated and rejected; the rest of the batch loads.
5. Rejects are written last, and a reject that cannot be stored as it is (its raw document is
   not valid jsonb) is stored with a printable copy of the document instead: writing a reject
   can never fail the batch.
The caller (runner) then writes the watermark and commits: data and watermark together.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import psycopg
from psycopg import sql
from psycopg.errors import UniqueViolation

from etl.engine.declare.assets import TableAsset
from etl.engine.load.inventory import inventory, save_inventory
from etl.engine.load.reading import count_anomalies
from etl.engine.load.rejects import REFUSALS, Reject, RejectCode, record_rejects
from etl.engine.rows import binary_copy
from etl.engine.rows.binary_copy import copy_rows
from etl.engine.rows.document import Doc
from etl.engine.rows.tables import TableLayout, layout_of
from etl.engine.values.coerce import CoercionError, to_datetime
from etl.engine.values.raw import SourceDocument, decoded, hash_key, identify
from etl.errors import UserFacingError

PRESENT_CHUNK = 10_000


def id_list(source_ids: list[str]) -> str:
    """Source ids as one JSON array, the parameter of a set-based look-up: psycopg dumps a list
    parameter item by item in Python (1.6 µs an id); `json.dumps` is C, and PostgreSQL unpacks it
    with `jsonb_array_elements_text` (source ids are valid text: etl.engine.values.identity)."""
    return json.dumps(source_ids)


class TransformShapeError(UserFacingError):
    """A transform returned a row with a key its table does not have, or without a required one:
    a bug in the transform, so the asset fails (naming asset, table and key) instead of loading
    NULLs or rejecting every document."""


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
    anomalies: int = 0
    """Documents whose cursor value is missing, not a date or in the future."""
    fields: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(path, BSON type) -> documents, over the documents read and not unchanged (drift)."""
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
        cursor_bound: datetime | None = None,
        track_fields: bool = True,
        cursor_ordered: bool = False,
    ) -> None:
        self.asset = asset
        self.conn = conn
        self.run_id = run_id
        self.parent = layout_of(asset.parent)
        self.children = [layout_of(child, asset.parent) for child in asset.children]
        if len(self.parent.primary_key) != 1:
            raise ValueError(f"{self.parent.qualified}: a parent table needs a one-column key")
        self.key = self.parent.primary_key[0]
        self.hash_key = hash_key(asset.code_version)
        self.track_seen = track_seen
        self.track_fields = track_fields
        self.cursor_bound = cursor_bound or datetime.max
        self.cursor_ordered = cursor_ordered
        """Batches come in (cursor, `_id`) order (see `count_anomalies`)."""
        self._staging_ready = False
        binary_copy.enable(conn)
        self._oids = {
            layout: binary_copy.column_oids(conn, layout.qualified, layout.columns)
            for layout in (self.parent, *self.children)
        }
        self._good_shapes: set[tuple[TableLayout, tuple[str, ...]]] = set()
        if track_seen:
            self.start_presence()

    def start_presence(self) -> None:
        """An empty set of present source ids (a temp table: it lasts across the run's commits)."""
        self.conn.execute(
            # no key: a document read twice (a cursor is not a snapshot) only adds a row, and
            # the anti-join below does not care; inserts stay cheap
            "CREATE TEMP TABLE IF NOT EXISTS seen_source_ids (source_id text)"
        )
        self.conn.execute("TRUNCATE seen_source_ids")

    # -- the batch --------------------------------------------------------------------------

    def prepare(self, raws: Sequence[SourceDocument], lookup: psycopg.Connection) -> PreparedBatch:
        """The pure-Python half of a batch: hash, skip unchanged, decode, transform, validate.

        Documents come as the server's bytes (etl.engine.values.raw): the `_id` and the hash are
        taken from the bytes, and only documents whose hash changed are decoded.

        Safe to run in a worker thread on its own `lookup` connection while the previous
        batch is written: a document appears once in a (cursor, _id)-ordered read, so the
        stored hashes it looks up cannot belong to the batch still being written.
        """
        batch = PreparedBatch(read=len(raws))
        cursor, bound = self.asset.cursor, self.cursor_bound
        batch.anomalies = count_anomalies(raws, cursor, bound, cursor_ordered=self.cursor_ordered)
        identified = self._identify(raws, batch.rejects)
        batch.source_ids = [sid for sid, _, _ in identified]
        stored = self._stored_hashes(lookup, batch.source_ids)
        changed = []
        for sid, digest, raw in identified:
            if sid in stored:
                batch.stored.add(sid)
                if stored[sid] == digest:
                    batch.unchanged += 1
                    continue
            doc = decoded(raw)
            changed.append(doc)
            item = self._prepare(sid, digest, doc, batch.rejects)
            if item is None:
                continue
            other = batch.items.get(item.key)
            if other is not None:
                reason = self.duplicate_reason(item.key, other.source_id)
                batch.rejects.append(Reject(sid, [reason], doc, RejectCode.KEY_CLASH))
                continue
            batch.items[item.key] = item
        if self.track_fields:
            batch.fields = inventory(changed)
        return batch

    def write(self, batch: PreparedBatch, collection: str) -> BatchStats:
        """The database half: key ownership, COPY or merge, rejects; the caller commits."""
        stats = BatchStats(read=batch.read, unchanged=batch.unchanged)
        rejects = batch.rejects
        if self.track_seen:
            self.remember_present(batch.source_ids)
        save_inventory(self.conn, self.asset.name, self.run_id, batch.fields)
        owners = self._owners(list(batch.items))  # on the writing connection: sees this run
        todo: list[tuple[Prepared, bool]] = []  # (item, is brand new)
        for key, item in batch.items.items():
            owner = owners.get(key)
            if owner is not None and owner != item.source_id:
                reason = self.duplicate_reason(key, owner)
                rejects.append(Reject(item.source_id, [reason], item.raw, RejectCode.KEY_CLASH))
            else:
                todo.append((item, owner is None and item.source_id not in batch.stored))
        self._write_isolating(todo, stats, rejects)
        stats.rejects = len(rejects)
        self.record_rejects(rejects, collection)
        return stats

    def remember_present(self, source_ids: Iterable[str]) -> None:
        """Note source ids that exist in the collection now (see `delete_absent`)."""
        iterator = iter(source_ids)
        while chunk := list(islice(iterator, PRESENT_CHUNK)):  # bounded memory on any scan
            self.conn.execute(
                "INSERT INTO seen_source_ids SELECT jsonb_array_elements_text(%s::jsonb)",
                [id_list(chunk)],
            )

    def delete_absent(self) -> int:
        """Drop parents (and, by cascade, children) whose document was not noted as present,
        and the rejects of documents no longer present: a reject keeps the raw document, and an
        erasure at the source (a user's data deleted on request) must not survive in
        `etl.rejects`; nor is a deleted document's reject outstanding any more."""
        self.conn.execute("ANALYZE seen_source_ids")  # temp tables get no statistics otherwise
        query = sql.SQL(
            "DELETE FROM {t} t WHERE NOT EXISTS "
            "(SELECT 1 FROM seen_source_ids s WHERE s.source_id = t.source_id)"
        ).format(t=self.parent.ident)
        deleted = self.conn.execute(query).rowcount
        self.conn.execute(
            "DELETE FROM etl.rejects r WHERE r.asset = %s AND r.source_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM seen_source_ids s WHERE s.source_id = r.source_id)",
            [self.asset.name],
        )
        return deleted

    def delete_documents(self, source_ids: list[str]) -> int:
        """Remove the rows of these documents (children go by cascade) and their rejects;
        returns how many parent rows went (a stream's deletes, and documents gone when it read
        them)."""
        if not source_ids:
            return 0
        ids = id_list(source_ids)
        query = sql.SQL(
            "DELETE FROM {} WHERE source_id IN (SELECT jsonb_array_elements_text(%s::jsonb))"
        )
        deleted = self.conn.execute(query.format(self.parent.ident), [ids]).rowcount
        self.conn.execute(
            "DELETE FROM etl.rejects WHERE asset = %s"
            " AND source_id IN (SELECT jsonb_array_elements_text(%s::jsonb))",
            [self.asset.name, ids],
        )
        return deleted

    def key_of(self, raw: dict[str, Any]) -> Any:
        """The parent key the transform gives `raw` (None if it gives none or raises)."""
        try:
            row = self.asset.transform(Doc(raw)).get(self.asset.parent)
        except Exception:
            return None
        return row.get(self.key) if isinstance(row, dict) else None

    # -- steps ------------------------------------------------------------------------------

    def _identify(
        self, raws: Iterable[SourceDocument], rejects: list[Reject]
    ) -> list[tuple[str, bytes, SourceDocument]]:
        out = []
        key = self.hash_key
        for raw in raws:
            try:
                sid, digest = identify(raw, key)
            except KeyError:
                rejects.append(Reject(None, ["_id: missing"], decoded(raw), RejectCode.MISSING_ID))
                continue
            out.append((sid, digest, raw))
        return out

    def _prepare(
        self, sid: str, digest: bytes, raw: dict[str, Any], rejects: list[Reject]
    ) -> Prepared | None:
        doc = Doc(raw)
        try:
            produced = self.asset.transform(doc)
        except Exception as exc:  # a transform bug must not lose the document
            reason = f"transform raised {type(exc).__name__}: {exc}"
            rejects.append(Reject(sid, [reason], raw, RejectCode.TRANSFORM_ERROR))
            return None
        try:
            return self._rows(sid, digest, raw, doc, produced, rejects)
        except TransformShapeError:
            raise
        except Exception as exc:  # rows of the wrong type: still one reject, never a crash
            reason = f"transform produced invalid rows: {type(exc).__name__}: {exc}"
            rejects.append(Reject(sid, [reason], raw, RejectCode.INVALID_ROWS))
            return None

    def _rows(
        self,
        sid: str,
        digest: bytes,
        raw: dict[str, Any],
        doc: Doc,
        produced: Any,
        rejects: list[Reject],
    ) -> Prepared | None:
        errors = doc.errors
        parent_row = produced.get(self.asset.parent)
        if not isinstance(parent_row, dict):
            reasons = [*errors, "transform produced no parent row"]
            rejects.append(Reject(sid, reasons, raw, RejectCode.NO_PARENT_ROW))
            return None
        self._check_shape(self.parent, parent_row)
        errors.extend(self.parent.validate(parent_row))
        key = parent_row.get(self.key)
        rows: dict[TableLayout, list[tuple[Any, ...]]] = {}
        for child in self.children:
            child_rows = produced.get(child.model) or []
            if not isinstance(child_rows, list):
                raise TypeError(f"{child.name}: expected a list of rows")
            out = []
            for i, row in enumerate(child_rows):
                self._check_shape(child, row)
                problems = child.validate(row)
                if problems:
                    errors.extend(f"{child.name}[{i}].{problem}" for problem in problems)
                row[child.parent_key or ""] = key
                out.append(child.to_tuple(row))
            rows[child] = out
        if errors:
            errors.extend(reason for ir in doc.item_rejects for reason in ir.reasons)
            rejects.append(Reject(sid, errors, raw, RejectCode.INVALID))
            return None
        for ir in doc.item_rejects:  # the document loads; each bad item is its own reject
            context = {"_id": raw.get("_id"), "path": ir.path, "item": ir.item}
            rejects.append(Reject(sid, ir.reasons, context, RejectCode.INVALID_ITEM))
        parent_row["source_id"] = sid
        parent_row["source_hash"] = digest
        try:
            parent_row["source_updated_at"] = to_datetime(raw.get(self.asset.cursor))
        except CoercionError:
            parent_row["source_updated_at"] = None
        rows[self.parent] = [self.parent.to_tuple(parent_row)]
        return Prepared(sid, key, raw, rows)

    def _check_shape(self, layout: TableLayout, row: dict[str, Any]) -> None:
        if row.keys() == layout.supplied:  # the usual case: every column, nothing else
            return
        shape = (layout, tuple(row))
        if shape in self._good_shapes:
            return
        problem = layout.shape_problem(row)
        if problem:
            raise TransformShapeError(f"asset {self.asset.name!r}: {problem}")
        self._good_shapes.add(shape)

    def _stored_hashes(self, conn: psycopg.Connection, sids: list[str]) -> dict[str, bytes]:
        if not sids:
            return {}
        query = sql.SQL(
            "SELECT source_id, source_hash FROM {t} "
            "WHERE source_id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"
        ).format(t=self.parent.ident)
        return dict(conn.execute(query, [id_list(sids)]).fetchall())

    def _owners(self, keys: list[Any]) -> dict[Any, str]:
        if not keys:
            return {}
        query = sql.SQL("SELECT {k}, source_id FROM {t} WHERE {k} = ANY(%s)").format(
            k=sql.Identifier(self.key), t=self.parent.ident
        )
        return dict(self.conn.execute(query, [keys]).fetchall())

    def duplicate_reason(self, key: Any, owner: str) -> str:
        """The reject reason of a document whose key belongs to document `owner`."""
        return f"{self.key}: {key!r} is already the key of document {owner}"

    # -- writing ----------------------------------------------------------------------------

    def _copy(
        self,
        table: str | sql.Composable,
        columns: Iterable[str],
        rows: Iterable[tuple[Any, ...]],
        *,
        types: tuple[int, ...] | None = None,
    ) -> int:
        return copy_rows(self.conn, table, columns, rows, types=types)

    def _write_isolating(
        self, todo: list[tuple[Prepared, bool]], stats: BatchStats, rejects: list[Reject]
    ) -> None:
        """Write all items in one savepoint; on a refusal, retry halves until it is isolated.

        Groups go out as binary COPY; a group with a value binary cannot dump (a value of another
        Python type than its column's) is written again as text (etl.engine.rows.binary_copy)."""
        pending = [(todo, True)] if todo else []
        while pending:
            group, binary = pending.pop()
            try:
                with self.conn.transaction():
                    counts = self._write_group(group, binary)
            except REFUSALS as exc:
                if len(group) == 1:
                    item = group[0][0]
                    refused = Reject(item.source_id, [_refusal(exc)], item.raw, _refusal_code(exc))
                    rejects.append(refused)
                else:
                    half = len(group) // 2
                    pending.extend([(group[half:], binary), (group[:half], binary)])
                continue
            except binary_copy.DUMP_ERRORS:
                if not binary:
                    raise
                pending.append((group, False))
                continue
            for table, count in counts.items():
                stats.add(table, count)

    def _write_group(self, group: list[tuple[Prepared, bool]], binary: bool) -> dict[str, int]:
        new = [item for item, is_new in group if is_new]
        changed = [item for item, is_new in group if not is_new]
        counts: dict[str, int] = {}
        layouts = (self.parent, *self.children)
        for layout in layouts if new else ():
            rows = (row for item in new for row in item.rows[layout])
            types = self._oids[layout] if binary else None
            counts[layout.qualified] = self._copy(layout.ident, layout.columns, rows, types=types)
        if changed:
            self._ensure_staging()
            for layout in layouts:
                rows = (row for item in changed for row in item.rows[layout])
                types = self._oids[layout] if binary else None
                self._copy(layout.stage_ident, layout.columns, rows, types=types)
            for table, count in self._merge().items():
                counts[table] = counts.get(table, 0) + count
            for layout in layouts:
                self.conn.execute(sql.SQL("TRUNCATE {}").format(layout.stage_ident))
        return counts

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

    def _merge(self) -> dict[str, int]:
        """Staged parents upserted (a document whose key changed loses its old row first);
        the staged parents' children replaced as a whole."""
        p = self.parent
        key = sql.Identifier(self.key)
        counts: dict[str, int] = {}
        with self.conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "DELETE FROM {t} t USING {s} s WHERE t.source_id = s.source_id "
                    "AND t.{k} <> s.{k}"
                ).format(t=p.ident, s=p.stage_ident, k=key)
            )
            assignments: list[sql.Composable] = [
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                for c in p.columns
                if c != self.key
            ]
            if p.stamped:
                assignments.append(sql.SQL("loaded_at = now()"))
            cur.execute(
                sql.SQL(
                    "INSERT INTO {t} ({cols}) SELECT {cols} FROM {s} "
                    "ON CONFLICT ({k}) DO UPDATE SET {updates}"
                ).format(
                    t=p.ident,
                    s=p.stage_ident,
                    cols=p.column_list(),
                    k=key,
                    updates=sql.SQL(", ").join(assignments),
                )
            )
            counts[p.qualified] = cur.rowcount
            for child in self.children:
                fk = sql.Identifier(child.parent_key or "")
                cur.execute(
                    sql.SQL("DELETE FROM {c} c USING {s} s WHERE c.{fk} = s.{k}").format(
                        c=child.ident, s=p.stage_ident, fk=fk, k=key
                    )
                )
                cur.execute(
                    sql.SQL("INSERT INTO {c} ({cols}) SELECT {cols} FROM {s}").format(
                        c=child.ident, s=child.stage_ident, cols=child.column_list()
                    )
                )
                counts[child.qualified] = cur.rowcount
        return counts

    def record_rejects(self, rejects: list[Reject], collection: str) -> None:
        """This run's rejects (etl.engine.load.rejects.record_rejects)."""
        record_rejects(self.conn, self.run_id, self.asset.name, rejects, collection)


def _refusal_code(exc: BaseException) -> RejectCode:
    """A unique index refusing a row is a key clash (two writers met); the rest is `refused`."""
    return RejectCode.KEY_CLASH if isinstance(exc, UniqueViolation) else RejectCode.REFUSED


def _refusal(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        detail = exc.diag.message_primary
        column = exc.diag.column_name
        where = f" (column {column})" if column else ""
        return f"database refused: {detail.strip()}{where}"
    return f"database refused: {type(exc).__name__}: {exc}"
