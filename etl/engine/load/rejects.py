"""Rejects: why a document could not become rows (a code and every reason), and recording
them in `etl.rejects` — in the batch's transaction, always, whatever the document holds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from bson import json_util
from psycopg import sql

from etl.engine.rows.binary_copy import copy_rows

REFUSALS = (
    psycopg.errors.IntegrityError,  # class 23: constraints
    psycopg.errors.DataError,  # class 22: values (also raised by psycopg for NUL in text)
    psycopg.errors.ProgramLimitExceeded,  # class 54: index entry too large, nesting too deep
    UnicodeError,  # the driver cannot encode a value
    OverflowError,
)
"""What PostgreSQL or the driver says about one bad row: isolated by bisection, never fatal."""
JSON_OPTIONS = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED, tz_aware=False)


class RejectCode(StrEnum):
    """Why a document was rejected, as a code stored next to the reasons' text (`etl.rejects.
    code`): what the engine acts on later (clashes) and what a query can group by."""

    MISSING_ID = "missing_id"
    TRANSFORM_ERROR = "transform_error"
    INVALID_ROWS = "invalid_rows"
    NO_PARENT_ROW = "no_parent_row"
    INVALID = "invalid"
    INVALID_ITEM = "invalid_item"
    KEY_CLASH = "key_clash"
    """Its business key belongs to another document (found by the loader, or refused by the
    unique index when two writers met)."""
    REFUSED = "refused"


@dataclass
class Reject:
    source_id: str | None
    reasons: list[str]
    document: dict[str, Any]
    code: RejectCode


def record_rejects(
    conn: psycopg.Connection, run_id: str, asset: str, rejects: list[Reject], collection: str
) -> None:
    """All rejects in one COPY; if that is refused, one by one, each falling back to a
    printable copy of its document: a reject is always recorded, never fatal."""
    if not rejects:
        return
    columns = ("run_id", "asset", "collection", "source_id", "reasons", "document", "code")
    target = sql.Identifier("etl", "rejects")
    rows = [_reject_row(r, run_id, asset, collection) for r in rejects]
    try:
        with conn.transaction():
            copy_rows(conn, target, columns, rows)
        return
    except REFUSALS:
        pass
    for reject, row in zip(rejects, rows, strict=True):
        try:
            with conn.transaction():
                copy_rows(conn, target, columns, [row])
        except REFUSALS:
            printable = {"unstorable_document": _printable(repr(reject.document))}
            fallback = (*row[:5], json.dumps(printable), row[6])
            with conn.transaction():
                copy_rows(conn, target, columns, [fallback])


def _reject_row(reject: Reject, run_id: str, asset: str, collection: str) -> tuple[Any, ...]:
    try:
        document = json_util.dumps(reject.document, json_options=JSON_OPTIONS)
    except Exception:  # not serialisable as it is: keep a printable copy
        document = json.dumps({"unstorable_document": _printable(repr(reject.document))})
    return (
        run_id,
        asset,
        collection,
        reject.source_id,
        [_printable(reason) for reason in reject.reasons],
        document,
        str(reject.code),
    )


def _printable(text: str) -> str:
    """`text` without what PostgreSQL text cannot hold (NUL, lone surrogates), escaped."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
