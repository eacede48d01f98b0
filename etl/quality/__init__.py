"""Data quality with Great Expectations: suites from the models, checkpoints, data docs.

Every function receives the project's `Definitions` (the models' tables, the marts' grains and
the hand-written checks come from there). Importing this package does not import Great
Expectations (it costs ~11 s): the DAG file calls `suites_for_asset` while Airflow parses it.
`build_suites` and `expectations_for` import GX when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.quality.checks import CheckResult, build_docs, run_checkpoint, run_checks, suites_for_asset
from etl.quality.rules import Rule, Severity, checked_tables, rules_for

if TYPE_CHECKING:
    from etl.quality.suites import build_suites, expectations_for

__all__ = [
    "CheckResult",
    "Rule",
    "Severity",
    "build_docs",
    "build_suites",
    "checked_tables",
    "expectations_for",
    "rules_for",
    "run_checkpoint",
    "run_checks",
    "suites_for_asset",
]


def __getattr__(name: str) -> Any:
    if name in ("build_suites", "expectations_for"):
        from etl.quality import suites

        return getattr(suites, name)
    raise AttributeError(f"module 'etl.quality' has no attribute {name!r}")
