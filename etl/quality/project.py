"""The GX file project in `expectations/` (settings: ETL_GX_DIR) and keeping it in sync with code.

Committed: `great_expectations.yml` (one SQL datasource "warehouse" with a table asset and a
"whole table" batch definition per checked table), one suite JSON per table, one validation
definition and one checkpoint per table. Written at run time, git-ignored: `uncommitted/`
(validation results and the data docs).

The datasource's connection string is the literal `${GX_WAREHOUSE_URL}`; GX substitutes it from
the environment, which `context()` fills from settings (or the `url` a caller passes). So no URL
or password is ever written to the project, and the embedded server's unix-socket URL works too
(GX's `add_postgres` insists on a host, `add_sql` does not).

`ensure(table)` adds only what is missing and rewrites a suite only when its rules changed: on a
project that matches the code, running checkpoints writes nothing but results. That keeps the
committed files stable and lets parallel Airflow tasks share one project without racing.
Regenerate after changing rules: `python -m etl expectations` (against a migrated warehouse).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.engine import Definitions
from etl.quality.rules import checked_tables
from etl.quality.suites import build_suite, import_gx, stable_id, suite_json
from etl.services.postgres import postgres_url, sqlalchemy_url
from etl.settings import get_settings

DATASOURCE = "warehouse"
BATCH = "whole table"
URL_VARIABLE = "GX_WAREHOUSE_URL"
DOCS_INDEX = "uncommitted/data_docs/local_site/index.html"
log = logging.getLogger(__name__)


@dataclass
class _Cached:
    url: str
    context: Any
    checkpoints: dict[str, Any] = field(default_factory=dict)


_CONTEXTS: dict[Path, _Cached] = {}


def project_dir() -> Path:
    return get_settings().gx_dir.resolve()


def _cached(url: str | None) -> _Cached:
    """The process's context for the project; a new one if the warehouse URL changes.

    Creating a context is cheap (~0.1 s) once GX is imported (~11 s, paid once per process).
    A datasource caches its engine, so another URL needs another context.
    """
    root = project_dir()
    resolved = sqlalchemy_url(url or postgres_url(get_settings()))
    cached = _CONTEXTS.get(root)
    if cached is None or cached.url != resolved:
        gx = import_gx()
        ctx = gx.get_context(  # the URL reaches the datasource's ${GX_WAREHOUSE_URL} here,
            mode="file",  # not through os.environ, so nothing process-wide changes
            context_root_dir=str(root),
            runtime_environment={URL_VARIABLE: resolved},
        )
        cached = _Cached(resolved, ctx)
        _CONTEXTS[root] = cached
    return cached


def context(url: str | None = None) -> Any:
    """The GX FileDataContext of the project, connected to the warehouse at `url`."""
    return _cached(url).context


def _datasource(ctx: Any) -> Any:
    if DATASOURCE not in ctx.data_sources.all():
        return ctx.data_sources.add_sql(name=DATASOURCE, connection_string=f"${{{URL_VARIABLE}}}")
    return ctx.data_sources.get(DATASOURCE)


def _batch_definition(ctx: Any, table: str) -> Any:
    source = _datasource(ctx)
    try:
        asset = source.get_asset(table)
    except LookupError:
        schema, name = table.split(".")
        asset = source.add_table_asset(name=table, table_name=name, schema_name=schema)
    try:
        return asset.get_batch_definition(BATCH)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_table(BATCH)


def _suite(ctx: Any, table: str, defs: Definitions) -> Any:
    wanted = build_suite(table, defs)
    try:
        stored = ctx.suites.get(table)
    except Exception:  # GX raises DataContextError subclasses for a missing suite
        stored = None
    if stored is not None and suite_json(stored) == suite_json(wanted):
        return stored
    log.info("writing suite %s (rules changed)", table)
    return _replace(ctx.suites, wanted, stored is not None)


def _replace(store: Any, wanted: Any, exists: bool) -> Any:
    """Write `wanted` with its own (deterministic) ids.

    GX's `add` always draws fresh random ids and `add_or_update` keeps the stored ones; only a
    plain update (`save()`) writes the ids it is given. So: add if new, put our ids back, save.
    """
    ids = [wanted.id, *(e.id for e in getattr(wanted, "expectations", []))]
    if not exists:
        wanted = store.add(wanted)
        wanted.id = ids[0]
        for expectation, id_ in zip(getattr(wanted, "expectations", []), ids[1:], strict=True):
            expectation.id = id_
    wanted.save()
    return store.get(wanted.name)


def _stored(store: Any, wanted: Any) -> Any:
    """The stored object if it equals `wanted` (same id, same references), else `wanted` saved."""
    try:
        stored = store.get(wanted.name)
    except Exception:  # GX raises DataContextError subclasses for a missing entry
        return _replace(store, wanted, False)
    return stored if stored.json() == wanted.json() else _replace(store, wanted, True)


def ensure(table: str, defs: Definitions, url: str | None = None) -> Any:
    """The checkpoint for `table`; its project entries are written only if missing or stale."""
    cached = _cached(url)
    if table in cached.checkpoints:
        return cached.checkpoints[table]
    gx = import_gx()
    ctx = cached.context
    batch, suite = _batch_definition(ctx, table), _suite(ctx, table, defs)
    definition = _stored(
        ctx.validation_definitions,
        gx.ValidationDefinition(
            name=table, data=batch, suite=suite, id=stable_id("validation", table)
        ),
    )
    checkpoint = _stored(
        ctx.checkpoints,
        gx.Checkpoint(
            name=table,
            id=stable_id("checkpoint", table),
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format="SUMMARY",
        ),
    )
    cached.checkpoints[table] = checkpoint
    return checkpoint


def sync_all(defs: Definitions, url: str | None = None) -> list[str]:
    """Regenerate the committed project for every checked table that exists in the warehouse.

    Also removes the entries of tables that are no longer checked. Returns the tables skipped
    because they do not exist yet (a mart that was never materialised).
    """
    from great_expectations.datasource.fluent.interfaces import TestConnectionError

    ctx, skipped = context(url), []
    wanted = checked_tables(defs)
    for table in wanted:
        try:
            ensure(table, defs, url)
        except TestConnectionError as error:  # the table is not there yet
            log.warning("skipped %s: %s", table, error)
            skipped.append(table)
    for store in (ctx.checkpoints, ctx.validation_definitions, ctx.suites):
        for item in store.all():
            if item.name not in wanted:
                store.delete(item.name)
    source = _datasource(ctx)
    for asset in list(source.assets):
        if asset.name not in wanted:
            source.delete_asset(asset.name)
    return skipped


def docs_index() -> Path:
    return project_dir() / DOCS_INDEX


def prune_results(keep: int, tables: list[str]) -> int:
    """Delete all but the newest `keep` validation results per table, and their docs pages.

    Why: every checkpoint's UpdateDataDocsAction rebuilds the docs index from all stored
    results, so without a bound each run gets slower (measured: +0.35 s per 100 results).
    Results live in uncommitted/validations/<schema>/<table>/<run name>/<run time>/.
    """
    base, removed = project_dir() / "uncommitted", 0
    for table in tables:
        runs = sorted(base.joinpath("validations", *table.split(".")).glob("*/*"), key=_run_time)
        for run in runs[: max(len(runs) - keep, 0)]:
            relative = run.relative_to(base / "validations")
            shutil.rmtree(run, ignore_errors=True)
            shutil.rmtree(base / "data_docs/local_site/validations" / relative, ignore_errors=True)
            removed += 1
    return removed


def _run_time(run: Path) -> str:
    return run.name  # GX names run folders by UTC time, e.g. 20261122T180339.164052Z
