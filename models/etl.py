"""The engine's own bookkeeping (schema `etl`): run records, watermarks and rejects."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import Json, Text, Timestamp, checked

SCHEMA = {"schema": "etl"}

RunStatus = Literal["running", "success", "failed", "skipped", "interrupted"]
"""`interrupted`: the process died (kill -9, lost database) before it could record an end."""


@checked
class AssetRun(SQLModel, table=True):
    """One row per asset per run: what it read, wrote and rejected, and how it ended."""

    __tablename__ = "asset_runs"
    __table_args__ = SCHEMA

    run_id: str = Text(primary_key=True)
    asset: str = Text(primary_key=True, index=True)
    status: RunStatus = Text()
    full_refresh: bool = Field(default=False)
    started_at: datetime = Timestamp(index=True)
    finished_at: datetime | None = Timestamp()
    documents_read: int = Field(default=0, ge=0)
    documents_unchanged: int = Field(default=0, ge=0)
    rows_written: dict[str, Any] = Json(default_factory=dict)
    rows_deleted: int = Field(default=0, ge=0)
    rejects: int = Field(default=0, ge=0)
    cursor_anomalies: int = Field(
        default=0,
        ge=0,
        sa_column_kwargs={"server_default": "0"},
        description="Documents read whose cursor value was missing, not a date or in the future",
    )
    note: str | None = Text(description="e.g. 'full build', 'skipped: inputs unchanged ...'")
    backend_pid: int | None = Field(
        default=None, description="PostgreSQL backend holding the asset's lock while it runs"
    )
    watermark_before: dict[str, Any] | None = Json()
    watermark_after: dict[str, Any] | None = Json()
    error: str | None = Text()


class Watermark(SQLModel, table=True):
    """How far an asset has read one collection: the last (cursor value, _id) it committed."""

    __tablename__ = "watermarks"
    __table_args__ = SCHEMA

    asset: str = Text(primary_key=True)
    collection: str = Text(primary_key=True)
    cursor_value: datetime | None = Timestamp()
    last_id: dict[str, Any] | None = Json(description="the _id as MongoDB extended JSON")
    run_id: str = Text()
    updated_at: datetime = Timestamp()


class Reject(SQLModel, table=True):
    """A document (or one item of it) that could not become valid rows, with every reason."""

    __tablename__ = "rejects"
    __table_args__ = (sa.Index("ix_rejects_asset_rejected_at", "asset", "rejected_at"), SCHEMA)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Text(index=True)
    asset: str = Text()
    collection: str = Text()
    source_id: str | None = Text()
    reasons: list[str] = Field(sa_type=sa.ARRAY(sa.Text))
    document: dict[str, Any] | None = Json()
    rejected_at: datetime = Timestamp(sa_column_kwargs={"server_default": sa.func.now()})
    code: str | None = Text()
    """Why, as a code (etl.engine.load.loader.RejectCode: key_clash, invalid, refused, ...);
    NULL on rejects recorded before the codes existed."""


class FieldInventory(SQLModel, table=True):
    """What the loaded documents of an asset held: field path x BSON type, with how many documents
    had it and the runs that first and last saw it (schema drift, etl.engine.observe.drift). Written
    in the same transaction as the rows of each batch."""

    __tablename__ = "field_inventory"
    __table_args__ = SCHEMA

    asset: str = Text(primary_key=True)
    path: str = Text(primary_key=True)
    bson_type: str = Text(primary_key=True)
    documents: int = Field(sa_type=sa.BigInteger)
    first_run: str = Text()
    first_seen_at: datetime = Timestamp()
    last_run: str = Text()
    last_seen_at: datetime = Timestamp()


SnapshotStatus = Literal["open", "finished"]
RangeStatus = Literal["pending", "running", "done", "failed"]


@checked
class Snapshot(SQLModel, table=True):
    """A partitioned snapshot of one table asset (first load or full refresh), split into `_id`
    ranges that workers load independently (etl.engine.snapshots.snapshot). At most one is open per
    asset; the watermark is written once, when it is finished."""

    __tablename__ = "snapshots"
    __table_args__ = (
        sa.Index(
            "uq_snapshots_open_asset",
            "asset",
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
        ),
        SCHEMA,
    )

    snapshot_id: str = Text(primary_key=True)
    asset: str = Text()
    collection: str = Text()
    run_id: str = Text(description="the run that planned it (rejects and drift carry it)")
    status: SnapshotStatus = Text()
    full_refresh: bool = Field(default=False)
    first_load: bool = Field(
        default=True, description="the asset's tables were empty when it was planned"
    )
    cursor_bound: datetime | None = Timestamp(
        description="the highest cursor date of the collection (up to started_at) before any "
        "range was read: the watermark set when it finishes (None: no document had a date)"
    )
    cursor_last_id: dict[str, Any] | None = Json(
        description="the _id of that document (extended JSON): the watermark's tie-break"
    )
    partitions: int = Field(ge=1)
    started_at: datetime = Timestamp()
    finished_at: datetime | None = Timestamp()


@checked
class SnapshotRange(SQLModel, table=True):
    """One `_id` range of a snapshot and how far it got: `checkpoint` (the last `_id` loaded)
    is committed with each batch's rows, so a killed worker's range resumes after it."""

    __tablename__ = "snapshot_ranges"
    __table_args__ = SCHEMA

    snapshot_id: str = Field(
        sa_type=sa.Text,
        foreign_key="etl.snapshots.snapshot_id",
        primary_key=True,
        ondelete="CASCADE",
    )
    index: int = Field(primary_key=True, ge=0)
    lower: dict[str, Any] | None = Json(description="inclusive lower _id (extended JSON)")
    upper: dict[str, Any] | None = Json(description="exclusive upper _id (extended JSON)")
    expected: int | None = Field(default=None, ge=0, description="documents counted at planning")
    status: RangeStatus = Text()
    checkpoint: dict[str, Any] | None = Json(description="the last _id loaded (extended JSON)")
    documents_read: int = Field(default=0, ge=0)
    documents_unchanged: int = Field(default=0, ge=0)
    rows_written: dict[str, Any] = Json(default_factory=dict)
    rejects: int = Field(default=0, ge=0)
    cursor_anomalies: int = Field(default=0, ge=0)
    worker: str | None = Text(description="host:pid of the process loading it")
    attempts: int = Field(default=0, ge=0)
    error: str | None = Text()
    updated_at: datetime | None = Timestamp()


class RefreshRequest(SQLModel, table=True):
    """A full refresh that was asked for and has not finished yet: written for every selected
    table asset before a `--full-refresh` run does any work, removed when the asset's refresh
    succeeds. A run that dies (a lost database, kill -9) leaves it, so the asset's next run
    of any kind is a full refresh again, and `status` names it until then."""

    __tablename__ = "refresh_requests"
    __table_args__ = SCHEMA

    asset: str = Text(primary_key=True)
    run_id: str = Text(description="the run that asked for it")
    requested_at: datetime = Timestamp()


class StreamPosition(SQLModel, table=True):
    """Where a streamed asset stands in its collection's change stream: the resume token,
    committed with the rows of the events up to it (etl.engine.run.stream), and what `status`
    shows of the stream."""

    __tablename__ = "stream_positions"
    __table_args__ = SCHEMA

    asset: str = Text(primary_key=True)
    collection: str = Text()
    resume_token: dict[str, Any] | None = Json()
    state: str = Text()
    run_id: str = Text()
    events: int = Field(sa_type=sa.BigInteger)
    heals: int = Field()
    lag_seconds: float | None = Field(default=None)
    last_event_at: datetime | None = Timestamp(default=None)
    updated_at: datetime | None = Timestamp(default=None)
    started_at: datetime | None = Timestamp(default=None)
    last_heal_at: datetime | None = Timestamp(default=None)
    last_error: str | None = Text(default=None)
    backend_pid: int | None = Field(default=None)
