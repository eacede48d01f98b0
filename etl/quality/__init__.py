"""Data quality with Great Expectations: suites from the models, checkpoints, data docs."""

from etl.quality.checks import CheckResult, build_docs, run_checkpoint, run_checks, suites_for_asset
from etl.quality.rules import checked_tables, domain_expectation, expectations_for

__all__ = [
    "CheckResult",
    "build_docs",
    "checked_tables",
    "domain_expectation",
    "expectations_for",
    "run_checkpoint",
    "run_checks",
    "suites_for_asset",
]
