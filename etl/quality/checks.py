"""Running Great Expectations: one file context, one suite + checkpoint per table, data docs.

The GX project lives in `expectations/` (settings: ETL_GX_DIR). Suites are (re)written from
`etl.quality.rules` on every run, so the committed JSON always matches the code. The warehouse
connection is `${GX_WAREHOUSE_URL}` in great_expectations.yml, filled from settings at run time:
no credentials are ever written to the project.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from etl.quality import domain  # noqa: F401  (registers the hand-written expectations)
from etl.quality.rules import checked_tables, expectations_for
from etl.services.postgres import postgres_url, sqlalchemy_url
from etl.settings import get_settings

DATASOURCE = "warehouse"
log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    table: str
    success: bool
    evaluated: int
    blocking_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@cache
def _context(root: Path, url: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
    os.environ["GX_WAREHOUSE_URL"] = sqlalchemy_url(url)
    context = gx.get_context(mode="file", context_root_dir=str(root))
    context.variables.progress_bars = {"globally": False}
    context.data_sources.add_or_update_sql(name=DATASOURCE, connection_string="${GX_WAREHOUSE_URL}")
    return context


def context() -> Any:
    settings = get_settings()
    return _context(settings.gx_dir.resolve(), postgres_url(settings))


def _checkpoint(table: str) -> Any:
    import great_expectations as gx

    ctx = context()
    source = ctx.data_sources.get(DATASOURCE)
    schema, name = table.split(".")
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_table_asset(name=table, table_name=name, schema_name=schema)
    try:
        batch = asset.get_batch_definition("whole table")
    except (KeyError, LookupError):
        batch = asset.add_batch_definition_whole_table("whole table")
    suite = ctx.suites.add_or_update(
        gx.ExpectationSuite(name=table, expectations=expectations_for(table))
    )
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=table, data=batch, suite=suite)
    )
    return ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=table,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
        )
    )


def run_checkpoint(table: str) -> CheckResult:
    """Validate one table; failures are sorted into blocking and warning by severity."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = _checkpoint(table).run()
    result = CheckResult(table, success=bool(outcome.success), evaluated=0)
    for validation in outcome.run_results.values():
        for r in validation.results:
            result.evaluated += 1
            if r.success:
                continue
            config = r.expectation_config
            label = config.description or f"{config.type}({_kwargs(config.kwargs)})"
            severity = (config.meta or {}).get("severity", "blocking")
            (result.warnings if severity == "warning" else result.blocking_failures).append(label)
    return result


def _kwargs(kwargs: dict[str, Any]) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("batch_id",)}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def run_checks(tables: list[str]) -> list[CheckResult]:
    return [run_checkpoint(t) for t in tables]


def suites_for_asset(asset: Any) -> list[str]:
    """The suites (one per table) that check an asset's tables."""
    known = set(checked_tables())
    return [t for t in asset.tables if t in known]


def build_docs() -> Path:
    """Rebuild the data docs; returns the path of their index.html."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context().build_data_docs()
    return get_settings().gx_dir.resolve() / "uncommitted/data_docs/local_site/index.html"
