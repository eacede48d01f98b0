"""Rules → Great Expectations suites, with deterministic ids.

Every id (suite and expectation) is a UUID5 of the table and the rule, so building the suites
twice gives byte-identical JSON: the committed `expectations/expectations/*.json` only changes
when a rule changes, and a test can tell when someone forgot to regenerate them.

Severity lives in two places on each expectation: GX 1.x's own `severity` field ("critical" for
blocking, "warning" for warnings), which the data docs show, and `meta.severity` in our words
("blocking" / "warning"), which `checks.py` reads to sort failures.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from typing import TYPE_CHECKING, Any

from etl.engine import Definitions
from etl.quality.rules import GX_SEVERITY, Rule, checked_tables, rules_for

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.expectations import Expectation
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

NAMESPACE = uuid.UUID("5b0c4f0e-4a57-4b8e-9a52-6d6f6e676f21")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def import_gx() -> Any:
    """Import GX once, quietly: it warns about optional extras on import, and logs every step
    of a checkpoint at INFO (238 of a task log's 274 lines were GX's): WARNING and up only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        import great_expectations.expectations
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx


def to_configuration(rule: Rule) -> ExpectationConfiguration:
    """The GX configuration of one rule (a suite accepts configurations that carry an id)."""
    import_gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    return ExpectationConfiguration(
        type=rule.type,
        kwargs=dict(rule.kwargs),
        meta={"severity": rule.severity, "origin": rule.origin},
        description=rule.description,
        severity=GX_SEVERITY[rule.severity],
        id=stable_id(rule.key),
    )


def expectations_for(table: str, defs: Definitions) -> list[Expectation]:
    """The GX Expectation objects of one table's suite (for inspection and tests)."""
    return [to_configuration(r).to_domain_obj() for r in rules_for(table, defs)]


def build_suite(table: str, defs: Definitions) -> ExpectationSuite:
    """One table's suite, named after the table ("shop.user_sessions")."""
    gx = import_gx()
    return gx.ExpectationSuite(
        name=table,
        expectations=[to_configuration(r) for r in rules_for(table, defs)],
        id=stable_id("suite", table),
    )


def build_suites(defs: Definitions) -> dict[str, ExpectationSuite]:
    """Every suite: table name → suite, for all checked tables (models and marts)."""
    return {table: build_suite(table, defs) for table in checked_tables(defs)}


def suite_json(suite: ExpectationSuite) -> dict[str, Any]:
    """The suite as stored (what GX writes), minus the GX version stamp."""
    data: dict[str, Any] = suite.to_json_dict()
    data.get("meta", {}).pop("great_expectations_version", None)
    return data
