"""Building a SQL asset (a mart), always in one transaction: readers see old or new, never half.

Full build: `CREATE TABLE <name>__building AS <select>`, the key made NOT NULL and unique (a
join that fans out fails here, and the previous table stays), then DROP the old table and
RENAME the new one. Running it twice gives the same contents: the SELECT is the whole definition.

Incremental build (marts declared with `Incremental`): only the partitions whose inputs were
loaded since the previous build are recomputed: DELETE them, INSERT them again from the same
SELECT. "Since" is stored in `etl.watermarks` with the data, in the same transaction. It is the
start of the oldest transaction still open when the previous build began (not the build's own
clock), so rows a concurrent load committed after that build had read are not missed.

A build falls back to a full one when there is no previous build, when the definition changed
(its hash is kept in the table's COMMENT, next to the description analysts see), on
`--full-refresh`, and after an upstream run deleted rows (deletions leave no `loaded_at` to
find).

A full build is skipped, and recorded with the note "skipped: inputs unchanged since ...", when
its definition is the same and no upstream asset wrote or deleted rows (or died mid-run) since
the last full build started: a run with nothing new costs a few queries, not a rebuild.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import ClientCursor, sql

from etl.engine.bookkeeping.records import load_watermark, save_watermark
from etl.engine.declare.assets import SqlAsset
from etl.engine.declare.context import RunContext
from etl.engine.values.results import AssetResult
from etl.engine.values.watermark import Watermark
from etl.errors import UserFacingError
from etl.services.postgres import pg_connect

DEFINITION = re.compile(r"\[definition ([0-9a-f]+)\]$")
OLDEST_OPEN_TRANSACTION = """
SELECT least(now(), min(xact_start)) FROM pg_stat_activity
WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
"""
UPSTREAM_DELETED = """
SELECT 1 FROM etl.asset_runs WHERE asset = ANY(%(deps)s) AND rows_deleted > 0
AND finished_at >= %(since)s LIMIT 1
"""
LAST_FULL_BUILD = """
SELECT run_id, started_at FROM etl.asset_runs
WHERE asset = %s AND status = 'success' AND note = 'full build'
ORDER BY started_at DESC LIMIT 1
"""
UPSTREAM_CHANGED = """
SELECT 1 FROM etl.asset_runs
WHERE asset = ANY(%(deps)s) AND coalesce(finished_at, now()) >= %(since)s
  AND (status IN ('running', 'interrupted') OR rows_written <> '{}'::jsonb OR rows_deleted > 0)
LIMIT 1
"""
"""Whether an upstream asset may have changed since: it wrote or deleted rows, or a run of it
died or is under way (its committed batches are not in its record)."""


class MartBuildError(UserFacingError):
    """A mart's SELECT broke its declared grain (NULL or duplicate key): nothing was replaced."""


@dataclass(frozen=True)
class _Names:
    schema: str
    name: str

    @property
    def target(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def building(self) -> sql.Identifier:
        return sql.Identifier(self.schema, f"{self.name}__building")

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@contextmanager
def _grain_guard(asset: SqlAsset, names: _Names) -> Iterator[None]:
    """Turn PostgreSQL's NULL/duplicate key refusal into a readable build failure."""
    try:
        yield
    except (psycopg.errors.NotNullViolation, psycopg.errors.UniqueViolation) as exc:
        detail = (exc.diag.message_detail or exc.diag.message_primary or str(exc)).strip()
        raise MartBuildError(
            f"{names.qualified}: the SELECT breaks the grain ({', '.join(asset.key)}): "
            f"{detail} Nothing was replaced."
        ) from None


def definition_hash(asset: SqlAsset) -> str:
    """Changes whenever the table's shape or meaning can: SQL, key, indexes, partition."""
    parts = [asset.sql, *asset.key, "|", *asset.indexes, "|"]
    if asset.incremental:
        parts += [asset.incremental.partition, asset.incremental.changed]
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()


def _ensure_schema(cur: ClientCursor[Any], schema: str) -> None:
    """`dwh` is the migrations'; a mart in another schema needs it to exist, or the right to
    create schemas, which the ETL's login (the loader) does not have (etl.services.roles)."""
    if cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone():
        return
    try:
        with cur.connection.transaction():
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    except psycopg.errors.InsufficientPrivilege:
        raise UserFacingError(
            f"schema {schema!r} does not exist and this login may not create schemas: add it "
            "to a migration (as `dwh` is), or have the owner create it and let the loader "
            "create tables in it"
        ) from None


def rebuild(asset: SqlAsset, ctx: RunContext) -> AssetResult:
    names = _Names(asset.schema, asset.name)
    result = AssetResult()
    with pg_connect(ctx.postgres_url) as conn, conn.transaction():
        cur = ClientCursor(conn)  # CREATE TABLE AS takes no server-side parameters
        floor = cur.execute(OLDEST_OPEN_TRANSACTION).fetchone()[0]  # type: ignore[index]
        _ensure_schema(cur, asset.schema)
        unchanged_since = _unchanged_since(asset, ctx, cur, names)
        since = _incremental_since(asset, ctx, cur, names)
        if unchanged_since is not None and since is None:
            result.note = f"skipped: inputs unchanged since the build of run {unchanged_since}"
        elif since is None:
            result.add_rows(names.qualified, _build_full(asset, cur, names))
            result.note = "full build"
        else:
            result.watermark_before = Watermark(since, None).to_json()
            changed = asset.incremental.changed  # type: ignore[union-attr]
            partitions = [row[0] for row in cur.execute(changed, {"since": since})]
            result.add_rows(names.qualified, _build_partitions(asset, cur, names, partitions))
            result.note = f"{len(partitions)} partition(s) rebuilt"
        if asset.incremental:
            save_watermark(conn, asset.name, names.qualified, Watermark(floor, None), ctx.run_id)
            result.watermark_after = Watermark(floor, None).to_json()
    return result


def _incremental_since(
    asset: SqlAsset, ctx: RunContext, cur: psycopg.Cursor, names: _Names
) -> datetime | None:
    """When the last build's inputs end, or None when this build must be a full one."""
    if asset.incremental is None or ctx.full_refresh:
        return None
    if not _current_definition(asset, cur, names):
        return None
    mark = load_watermark(cur.connection, asset.name, names.qualified)
    if mark is None or mark.cursor_value is None:
        return None
    deps = ctx.upstream_of(asset.name)
    deleted = cur.execute(UPSTREAM_DELETED, {"deps": deps, "since": mark.cursor_value})
    return None if deleted.fetchone() else mark.cursor_value


def _current_definition(asset: SqlAsset, cur: psycopg.Cursor, names: _Names) -> bool:
    """Whether the mart's table exists and was built from this definition."""
    comment = cur.execute(
        "SELECT obj_description(to_regclass(%s), 'pg_class')", [names.qualified]
    ).fetchone()
    stored = DEFINITION.search(comment[0] or "") if comment else None
    return stored is not None and stored.group(1) == definition_hash(asset)


def _unchanged_since(
    asset: SqlAsset, ctx: RunContext, cur: psycopg.Cursor, names: _Names
) -> str | None:
    """The run id of the last full build when nothing it read can have changed since (then
    rebuilding would write the same table again), else None.

    Only full builds are skipped (an incremental build of nothing is already cheap); a changed
    definition, `--full-refresh` or a table changed by hand outside the engine are rebuilt.
    """
    if asset.incremental is not None or ctx.full_refresh:
        return None
    if not _current_definition(asset, cur, names):
        return None
    last = cur.execute(LAST_FULL_BUILD, [asset.name]).fetchone()
    if last is None:
        return None
    changed = cur.execute(
        UPSTREAM_CHANGED, {"deps": ctx.upstream_of(asset.name), "since": last[1]}
    ).fetchone()
    return None if changed else str(last[0])


def _build_full(asset: SqlAsset, cur: psycopg.Cursor, names: _Names) -> int:
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(names.building))
    cur.execute(
        sql.SQL("CREATE TABLE {} AS ").format(names.building) + sql.SQL(asset.sql),
        {"partitions": None},
    )
    indexes = _index_building(asset, cur, names)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(names.target))
    cur.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(names.building, sql.Identifier(names.name))
    )
    for temporary, final in indexes:
        cur.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(names.schema, temporary), sql.Identifier(final)
            )
        )
    description = " ".join(asset.description.split())
    cur.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            names.target,
            sql.Literal(f"{description} [definition {definition_hash(asset)}]".strip()),
        )
    )
    count = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(names.target)).fetchone()
    return count[0] if count else 0


def _index_building(asset: SqlAsset, cur: psycopg.Cursor, names: _Names) -> list[tuple[str, str]]:
    """Key constraints and indexes on the new table, under temporary names; returns renames."""
    renames = []
    with _grain_guard(asset, names):
        for column in asset.key:
            cur.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
                    names.building, sql.Identifier(column)
                )
            )
        specs = [("key", ", ".join(asset.key), True)] if asset.key else []
        specs += [(str(i), columns, False) for i, columns in enumerate(asset.indexes)]
        for suffix, columns, unique in specs:
            temporary, final = f"{names.name}__building_{suffix}", f"ix_{names.name}_{suffix}"
            cur.execute(
                sql.SQL("CREATE {unique} INDEX {index} ON {table} ({columns})").format(
                    unique=sql.SQL("UNIQUE" if unique else ""),
                    index=sql.Identifier(temporary),
                    table=names.building,
                    columns=sql.SQL(", ").join(
                        sql.Identifier(c.strip()) for c in columns.split(",")
                    ),
                )
            )
            renames.append((temporary, final))
    return renames


def _build_partitions(
    asset: SqlAsset, cur: psycopg.Cursor, names: _Names, partitions: list[object]
) -> int:
    if not partitions:
        return 0
    assert asset.incremental is not None
    column = sql.Identifier(asset.incremental.partition)
    params = {"partitions": partitions}
    cur.execute(
        sql.SQL("DELETE FROM {} WHERE {} = ANY(%(partitions)s)").format(names.target, column),
        params,
    )
    with _grain_guard(asset, names):
        cur.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM (").format(names.target)
            + sql.SQL(asset.sql)
            + sql.SQL(") AS built WHERE built.{} = ANY(%(partitions)s)").format(column),
            params,
        )
    return cur.rowcount
