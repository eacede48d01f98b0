"""What "good data" means, per table: expectations derived from the models, plus domain ones.

Generated from SQLModel metadata, so a new column or rule is checked without touching this file:
not-null for required columns, uniqueness of keys, value sets for `Literal` enumerations, ranges
from `ge/le`, regexes from patterns — all blocking. Hand-written domain expectations follow, each
with its severity. Cross-collection references are expectations, not foreign keys (documents
arrive out of order); they warn rather than block, because a rejected parent document should not
stop the whole warehouse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import great_expectations.expectations as gxe
import sqlalchemy as sa

import models
from models.base import column_rules

Severity = Literal["blocking", "warning"]
GX_SEVERITY = {"blocking": "critical", "warning": "warning"}
CHECKED_SCHEMAS = ("shop", "aviasales", "dwh")
FRESHNESS_DAYS = 7


@dataclass(frozen=True)
class Rule:
    table: str
    severity: Severity
    build: Callable[[dict[str, Any]], gxe.Expectation]
    """Builds the expectation from common keyword arguments (severity, meta)."""


DOMAIN: dict[str, list[Rule]] = defaultdict(list)


def domain_expectation(table: str, severity: Severity) -> Callable[[Callable], Callable]:
    """Register a hand-written expectation for `table` (also usable for marts)."""

    def register(build: Callable[[dict[str, Any]], gxe.Expectation]) -> Callable:
        DOMAIN[table].append(Rule(table, severity, build))
        return build

    return register


def _common(severity: Severity, origin: str) -> dict[str, Any]:
    return {"severity": GX_SEVERITY[severity], "meta": {"severity": severity, "origin": origin}}


def model_expectations(table: sa.Table) -> list[gxe.Expectation]:
    """The expectations a model's own declarations imply (all blocking)."""
    model = models.model_for(table.fullname)
    common = _common("blocking", "model")
    out: list[gxe.Expectation] = []
    for rule in column_rules(model):
        if rule.required:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=rule.column, **common))
        if rule.choices:
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=rule.column, value_set=list(rule.choices), **common
                )
            )
        if rule.ge is not None or rule.le is not None:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=rule.column,
                    min_value=float(rule.ge) if rule.ge is not None else None,
                    max_value=float(rule.le) if rule.le is not None else None,
                    **common,
                )
            )
        if rule.pattern:
            out.append(
                gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=rule.pattern, **common)
            )
    key = [c.name for c in table.primary_key.columns]
    if len(key) == 1:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=key[0], **common))
    else:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=key, **common))
    if "source_id" in table.columns:
        out.append(gxe.ExpectColumnValuesToBeUnique(column="source_id", **common))
    return out


def generic_expectations(table: sa.Table) -> list[gxe.Expectation]:
    """Row count after a load, and freshness of parents (warnings)."""
    common = _common("warning", "generic")
    out: list[gxe.Expectation] = [gxe.ExpectTableRowCountToBeBetween(min_value=1, **common)]
    if "source_updated_at" in table.columns:
        out.append(
            gxe.UnexpectedRowsExpectation(
                description=f"the newest source_updated_at is at most {FRESHNESS_DAYS} days old",
                unexpected_rows_query=(
                    "SELECT max(source_updated_at) AS newest FROM {batch} "
                    f"HAVING max(source_updated_at) < now() - interval '{FRESHNESS_DAYS} days'"
                ),
                **common,
            )
        )
    return out


def expectations_for(table: str) -> list[gxe.Expectation]:
    sa_table = models.metadata.tables.get(table)
    out: list[gxe.Expectation] = []
    if sa_table is not None:
        out += model_expectations(sa_table) + generic_expectations(sa_table)
    for rule in DOMAIN.get(table, []):
        out.append(rule.build(_common(rule.severity, "domain")))
    return out


def checked_tables() -> list[str]:
    """Every table that has a suite: the models' tables plus tables with domain rules."""
    tables = [t.fullname for t in models.metadata.sorted_tables if t.schema in CHECKED_SCHEMAS]
    return tables + sorted(set(DOMAIN) - set(tables))
