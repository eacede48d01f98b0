"""`python -m etl bench --compare dlt`: the same documents through dlt, into the same server.

dlt (https://dlthub.com) is what many teams would write this pipeline with: its Mongo source
yields documents, its normaliser turns nested lists into child tables, and its `merge` write
disposition upserts on a primary key. Here it loads the benchmark's user_sessions documents
(the very ones `run_bench` loads) into a dataset of its own in the benchmark's scratch database,
twice, as our first load and our unchanged re-run do:
- first load: `merge` on `session_id` into empty tables;
- second run: the same documents again (dlt has no hash skip: it stages and merges them all).
dlt is an optional extra (`pip install -e '.[compare]'`), never needed by `make test`.

What differs, so the figures are read fairly: dlt infers its schema (no declared types, no
CHECK constraints, no rejects: a bad value becomes a variant column), writes `_dlt_id` /
`_dlt_parent_id` links instead of the business key, and loads through files on local disk (csv
and COPY for PostgreSQL, its fastest format there). `_id`s are given to it as strings (it has no
ObjectId type); that conversion is timed with it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from etl.errors import UserFacingError
from etl.services.postgres import pg_connect

DATASET = "dlt_compare"


class CompareUnavailable(UserFacingError):
    """dlt (the optional extra) is not installed."""


def require_dlt() -> None:
    """Fail before any work when the optional extra is missing."""
    try:
        import dlt  # noqa: F401
    except ImportError:
        raise CompareUnavailable(
            "the dlt comparison needs the optional extra: pip install -e '.[compare]'"
        ) from None


def dlt_passes(url: str, documents: Any, n: int) -> list[tuple[str, int, int, float]]:
    """(name, documents, rows, seconds) for dlt's first load and its unchanged re-run;
    `documents()` gives the benchmark's documents afresh."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # not its config-file probing
    logging.getLogger("dlt").setLevel(logging.ERROR)
    require_dlt()
    import dlt
    from dlt.destinations import postgres

    with tempfile.TemporaryDirectory(prefix="etl-dlt-") as workdir:
        pipeline = dlt.pipeline(
            pipeline_name="etl_bench_compare",
            destination=postgres(credentials=_dlt_credentials(url)),
            dataset_name=DATASET,
            pipelines_dir=workdir,
        )

        def user_sessions() -> Iterator[dict[str, Any]]:
            for doc in documents():
                yield doc | {"_id": str(doc["_id"])}

        passes = []
        for name in ("dlt: first load (merge)", "dlt: second run, unchanged"):
            resource = dlt.resource(
                user_sessions(),
                name="user_sessions",
                write_disposition="merge",
                primary_key="session_id",
            )
            started = time.perf_counter()
            pipeline.run(resource, loader_file_format="csv")
            seconds = time.perf_counter() - started
            passes.append((name, n, _rows(url), seconds))
    return passes


def _rows(url: str) -> int:
    """Rows in dlt's tables (its parent and child tables, not its bookkeeping)."""
    total = 0
    with pg_connect(url) as conn:
        tables = conn.execute(
            "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname = %s AND tablename NOT LIKE '\\_dlt%%'",
            [DATASET],
        ).fetchall()
        for (table,) in tables:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            total += int(row[0]) if row else 0
    return total


def _dlt_credentials(url: str) -> dict[str, Any]:
    """The server's URL as dlt's credential fields (dlt insists on a host and a password; an
    embedded server's unix socket stays in the `host` query parameter, as in our URL)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return {
        "database": (parts.path or "/postgres").lstrip("/"),
        "username": unquote(parts.username or "postgres"),
        # dlt requires one; a server that trusts the connection (the embedded one) ignores it
        "password": unquote(parts.password or "") or "unused",
        "host": parts.hostname or "localhost",
        "port": parts.port or int(query.get("port", ["5432"])[0]),
        # libpq reads its URL's query after the host: a socket directory given there wins
        "query": {k: v[0] for k, v in query.items()},
    }
