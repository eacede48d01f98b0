"""Running checkpoints and sorting their failures by severity; building the data docs.

`success` on a CheckResult means "no blocking failure": the gate the DAG and `python -m etl
check` apply. Warning failures are listed in `warnings` and never make a table fail (GX itself
calls any failed expectation a failed validation; its raw verdict is `gx_success`).

Data docs: `<ETL_GX_DIR>/uncommitted/data_docs/local_site/index.html` (default
`expectations/uncommitted/...`, git-ignored); every checkpoint updates them (UpdateDataDocsAction).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.engine import Asset, Definitions
from etl.quality.rules import checked_tables


@dataclass
class CheckResult:
    table: str
    success: bool
    evaluated: int
    blocking_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    gx_success: bool = True
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        """'failed', 'warnings' or 'passed': what the index, the pages and the DAG call it."""
        if self.blocking_failures:
            return "failed"
        return "warnings" if self.warnings else "passed"


def _label(result: Any) -> str:
    """A one-line name for a failed expectation: its description or type(kwargs), and counts."""
    config = result.expectation_config
    hidden = ("batch_id", "unexpected_rows_query")
    shown = ", ".join(f"{k}={v}" for k, v in config.kwargs.items() if k not in hidden)
    label = config.description or f"{config.type}({shown})"
    details = result.result or {}
    if error := _error(result):
        label += f" [error: {error}]"
    elif details.get("unexpected_count"):
        label += f" [{details['unexpected_count']} unexpected]"
    elif config.type == "unexpected_rows_expectation" and details.get("observed_value"):
        label += f" [{details['observed_value']} unexpected rows]"
    return label


def _error(result: Any) -> str | None:
    """The first line of the exception an expectation raised (GX nests it per metric)."""
    info = result.exception_info or {}
    found = [info] + [v for v in info.values() if isinstance(v, dict)]
    for entry in found:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error").splitlines()[0][:300]
    return None


def _severity(result: Any) -> str:
    """Our severity from `meta`; GX's own field as a fallback for expectations added by hand.

    An expectation that raised (bad SQL, a renamed column) blocks whatever its severity: a rule
    that cannot be evaluated must not pass quietly as a warning.
    """
    config = result.expectation_config
    if _error(result):
        return "blocking"
    meta = (config.meta or {}).get("severity")
    if meta in ("blocking", "warning"):
        return str(meta)
    gx_severity = str(getattr(config, "severity", "critical"))
    return "blocking" if gx_severity.endswith("critical") else "warning"


def run_checkpoint(
    table: str, defs: Definitions, url: str | None = None, run_name: str | None = None
) -> CheckResult:
    """Validate one table against its suite (warehouse from settings unless `url` is given).

    `run_name` (e.g. the Airflow run id) names the run in the data docs.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.datasource.fluent.interfaces import TestConnectionError
    from sqlalchemy.exc import ProgrammingError

    from etl.quality.project import ensure

    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checkpoint = ensure(table, defs, url)
            outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_name))
        localise_docs()  # the checkpoint rebuilt the docs with CDN links
    except (TestConnectionError, ProgrammingError) as error:  # e.g. no such table: that blocks
        message = f"cannot validate {table}: {str(error).splitlines()[0]}"
        return CheckResult(table, False, 0, [message], gx_success=False)
    result = CheckResult(table, True, 0, gx_success=bool(outcome.success))
    for validation in outcome.run_results.values():
        for r in validation.results:
            result.evaluated += 1
            if not r.success:
                blocking = _severity(r) == "blocking"
                (result.blocking_failures if blocking else result.warnings).append(_label(r))
    result.success = not result.blocking_failures
    result.seconds = round(time.monotonic() - started, 2)
    return result


def run_checks(
    tables: list[str], defs: Definitions, url: str | None = None, run_name: str | None = None
) -> list[CheckResult]:
    return [run_checkpoint(t, defs, url, run_name) for t in tables]


def suites_for_asset(asset: Asset, defs: Definitions) -> list[str]:
    """The suites (one per table, named after it) that check an asset's tables, parents first.

    Cheap: it does not import Great Expectations, so the DAG file may call it while parsing.
    """
    known = set(checked_tables(defs))
    return [t for t in asset.tables if t in known]


def build_docs(defs: Definitions, url: str | None = None) -> Path:
    """Rebuild the data docs; returns their index.html.

    First drops all but the newest ETL_GX_KEEP_RESULTS results per table (see prune_results):
    done here, once at the end of a DAG run, not in the checkpoints that run in parallel.
    """
    from etl.quality.project import context, docs_index, prune_results
    from etl.settings import get_settings

    prune_results(get_settings().gx_keep_results, checked_tables(defs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context(url).build_data_docs()
    localise_docs()
    return docs_index()


def localise_docs() -> None:
    """Local copies of the pages' scripts and styles, warnings shown as warnings."""
    from etl.quality.offline import localise_site
    from etl.quality.project import docs_index
    from etl.settings import get_settings

    localise_site(docs_index().parent, get_settings().local_dir.resolve() / "vendor")
