"""Asset declarations: data about what an asset reads and writes, plus the code that builds it.

Three kinds share one shape (name, group, upstream assets, upstream Mongo collections):
- `TableAsset`: Mongo collection → normalised tables; declared with `@table_asset` over a pure
  transform `Doc -> Rows`. The engine owns reading, batching, COPY, merge, watermarks, rejects.
- `SqlAsset`: a mart built by one SELECT, rebuilt atomically (declared with `sql_asset`).
- `IngestAsset`: a Python step that writes Mongo collections (e.g. the Aviasales collector), so
  the assets reading those collections run after it.
Declaring an asset only builds the object, which describes and never runs itself: the run
layer (etl.engine.run) maps each kind to the function that materialises it. The project lists
its assets (and checks) in one `Definitions` (etl/definitions.py), which validates the whole
set; nothing registers itself.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import SQLModel

from etl.engine.rows.document import Doc
from etl.engine.values.errors import AssetDeclarationError
from models.base import table_of

if TYPE_CHECKING:
    from etl.engine.declare.context import RunContext
    from etl.engine.values.results import AssetResult

Rows = dict[type[SQLModel], dict[str, Any] | list[dict[str, Any]]]
Transform = Callable[[Doc], Rows]


@dataclass(frozen=True, kw_only=True)
class Asset:
    name: str
    group: str
    deps: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    description: str = ""

    kind: str = field(init=False, default="asset")

    @property
    def tables(self) -> tuple[str, ...]:
        """Qualified names of the PostgreSQL tables this asset writes."""
        return ()

    @property
    def produces(self) -> tuple[str, ...]:
        """Mongo collections this asset writes (ingest steps only)."""
        return ()


def qualified_name(model: type[SQLModel]) -> str:
    table = table_of(model)
    return f"{table.schema}.{table.name}" if table.schema else table.name


@dataclass(frozen=True, kw_only=True)
class TableAsset(Asset):
    transform: Transform
    parent: type[SQLModel]
    children: tuple[type[SQLModel], ...] = ()
    cursor: str = "updated_at"
    code_version: str = ""
    detect_deletes: bool = True
    """Scan the collection's `_id`s after each incremental run to remove rows of deleted
    documents; turn off for collections too large to scan every run (then only
    `--full-refresh` removes them)."""
    partitioned: bool = False
    """A snapshot (first load, full refresh) is split into ETL_PARTITIONS `_id` ranges loaded
    in parallel: by local processes, or by one Airflow mapped task per range."""

    kind: str = field(init=False, default="table")

    @property
    def source(self) -> str:
        return self.sources[0]

    @property
    def models(self) -> tuple[type[SQLModel], ...]:
        return (self.parent, *self.children)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(qualified_name(m) for m in self.models)


@dataclass(frozen=True)
class Incremental:
    """How a mart rebuilds only what changed: the partitions whose inputs were (re)loaded.

    `partition` is a column of the mart (a day, a search date). `changed` is a query returning
    the partition values of input rows loaded since `%(since)s` (compare the inputs' `loaded_at`).
    The mart's SELECT may narrow its inputs with `%(partitions)s` (the array being rebuilt, NULL
    on a full build); the engine filters its output on the partition column either way.
    A partition value must be an immutable fact of its input row (the day a search was made):
    a row that moves to another partition is corrected by the next full build (`--full-refresh`).
    """

    partition: str
    changed: str


@dataclass(frozen=True, kw_only=True)
class SqlAsset(Asset):
    """A mart: a table defined by one SELECT; readers see the old or the new contents, never half.

    `key` is the mart's grain: its columns are made NOT NULL and unique, so a join that fans out
    fails the build (and the previous table stays) instead of publishing double counts.
    """

    sql: str
    schema: str = "dwh"
    key: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()  # column lists, e.g. "user_id, day"
    incremental: Incremental | None = None

    kind: str = field(init=False, default="sql")

    @property
    def tables(self) -> tuple[str, ...]:
        return (f"{self.schema}.{self.name}",)


@dataclass(frozen=True, kw_only=True)
class IngestAsset(Asset):
    """A Python step that fills Mongo collections before the table assets read them."""

    run: Callable[[RunContext], AssetResult]
    writes: tuple[str, ...] = ()

    kind: str = field(init=False, default="ingest")

    @property
    def produces(self) -> tuple[str, ...]:
        return self.writes


def code_version_of(fn: Callable[..., Any]) -> str:
    """A short hash of the transform's source: a changed transform re-writes unchanged docs."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = fn.__qualname__
    return hashlib.blake2b(source.encode(), digest_size=8).hexdigest()


def table_asset(
    *,
    source: str,
    parent: type[SQLModel],
    children: tuple[type[SQLModel], ...] = (),
    group: str,
    name: str | None = None,
    cursor: str = "updated_at",
    deps: tuple[str, ...] = (),
    detect_deletes: bool = True,
    partitioned: bool = False,
) -> Callable[[Transform], TableAsset]:
    """Declare a table asset: `source` collection → `parent` table (+ `children` tables).

    The decorated function turns ONE raw document into rows: a dict mapping each model to a
    row dict (the parent) or a list of row dicts (a child). The engine fills `source_*`
    columns and the children's parent-key columns itself.
    """

    def declare(fn: Transform) -> TableAsset:
        asset = TableAsset(
            name=name or fn.__name__,
            group=group,
            deps=deps,
            sources=(source,),
            description=(inspect.getdoc(fn) or "").strip(),
            transform=fn,
            parent=parent,
            children=children,
            cursor=cursor,
            code_version=code_version_of(fn),
            detect_deletes=detect_deletes,
            partitioned=partitioned,
        )
        return asset

    return declare


def sql_asset(
    name: str,
    *,
    sql: str,
    group: str,
    key: tuple[str, ...] = (),
    description: str = "",
    indexes: tuple[str, ...] = (),
    incremental: Incremental | None = None,
    schema: str = "dwh",
) -> SqlAsset:
    """Declare a mart: `sql` is one SELECT over the upstream assets' tables.

    Its upstream assets are not declared: they are the writers of the (schema-qualified) tables
    the SELECT reads, found when the graph is built (etl.engine.declare.lineage), so the two can
    never disagree. The SELECT runs with psycopg parameters (`%(partitions)s`), so a literal %
    is written %%.
    """
    if incremental is not None and incremental.partition not in key:
        raise AssetDeclarationError(
            f"mart {name!r}: the partition column {incremental.partition!r} must be in its key"
        )
    return SqlAsset(
        name=name,
        group=group,
        description=description,
        sql=sql,
        key=key,
        indexes=indexes,
        incremental=incremental,
        schema=schema,
    )


def ingest_asset(
    name: str,
    *,
    writes: tuple[str, ...],
    group: str,
    deps: tuple[str, ...] = (),
    description: str = "",
) -> Callable[[Callable[[RunContext], AssetResult]], IngestAsset]:
    """Declare a Python step that fills the Mongo collections `writes` (e.g. an API collector).

    Table assets whose source is one of `writes` run after it: the edge comes from the data.
    """

    def declare(fn: Callable[[RunContext], AssetResult]) -> IngestAsset:
        asset = IngestAsset(
            name=name,
            group=group,
            deps=deps,
            description=description or (inspect.getdoc(fn) or "").strip(),
            run=fn,
            writes=writes,
        )
        return asset

    return declare
