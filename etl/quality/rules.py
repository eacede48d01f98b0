"""What "good data" means, per table, as plain data: expectation type, kwargs and a severity.

Rules are derived from the SQLModel metadata, so a new column or field rule is checked without
touching this package: not-null for required columns, uniqueness of primary and natural keys,
value sets for `Literal` enumerations, ranges from `ge/le`, regexes from patterns (all blocking),
plus a row count and a freshness check (warnings). Hand-written checks are declared against their
asset (`etl.engine.asset_check`, next to the asset in etl/assets/) and come from `Definitions`.

This module deliberately does not import Great Expectations (about 11 s of imports): the DAG
file asks `checked_tables(defs)` while Airflow parses it, and that must stay fast. `suites.py`
turns rules into GX objects when a checkpoint actually runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

import models
from etl.engine import AssetCheck, Definitions
from models.base import column_rules

Severity = Literal["blocking", "warning"]  # the same as etl.engine.Severity
GX_SEVERITY: dict[Severity, str] = {"blocking": "critical", "warning": "warning"}
CHECKED_SCHEMAS = ("shop", "aviasales", "dwh")
FRESHNESS_DAYS = 7


@dataclass(frozen=True)
class Rule:
    """One expectation for one table, GX-free: `type` is the GX snake_case expectation type."""

    table: str
    type: str
    kwargs: dict[str, Any] = field(hash=False)
    severity: Severity = "blocking"
    description: str | None = None
    origin: Literal["model", "generic", "domain"] = "domain"

    @property
    def key(self) -> str:
        """A stable identity (type + kwargs): gives each expectation a deterministic GX id."""
        return f"{self.table}|{self.type}|{json.dumps(self.kwargs, sort_keys=True, default=str)}"


def check_rule(check: AssetCheck) -> Rule:
    """A hand-written asset check as a rule of its table's suite."""
    return Rule(
        check.target,
        check.expectation,
        dict(check.kwargs),
        check.severity,
        check.description,
        "domain",
    )


def _keys(table: sa.Table) -> list[tuple[str, ...]]:
    """Primary key, unique constraints, unique indexes and unique columns, without repeats."""
    keys = [tuple(c.name for c in table.primary_key.columns)]
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            keys.append(tuple(c.name for c in constraint.columns))
    keys += [tuple(c.name for c in ix.columns) for ix in table.indexes if ix.unique]
    keys += [(c.name,) for c in table.columns if c.unique]
    return [k for i, k in enumerate(keys) if k and k not in keys[:i]]


def model_rules(table: sa.Table) -> list[Rule]:
    """The rules a model's own declarations imply (all blocking: the loader enforces them too)."""
    name = table.fullname

    def rule(kind: str, **kwargs: Any) -> Rule:
        return Rule(name, kind, kwargs, "blocking", None, "model")

    out: list[Rule] = []
    for r in column_rules(models.model_for(name)):
        if r.required:
            out.append(rule("expect_column_values_to_not_be_null", column=r.column))
        if r.choices:
            out.append(
                rule("expect_column_values_to_be_in_set", column=r.column, value_set=[*r.choices])
            )
        if r.ge is not None or r.le is not None:
            bounds = {
                "min_value": float(r.ge) if r.ge is not None else None,
                "max_value": float(r.le) if r.le is not None else None,
            }
            out.append(rule("expect_column_values_to_be_between", column=r.column, **bounds))
        if r.pattern:
            regex = rule("expect_column_values_to_match_regex", column=r.column, regex=r.pattern)
            out.append(regex)
    for key in _keys(table):
        if len(key) == 1:
            out.append(rule("expect_column_values_to_be_unique", column=key[0]))
        else:
            out.append(rule("expect_compound_columns_to_be_unique", column_list=[*key]))
    return out


FRESHNESS_RULE = (
    f"the newest source_updated_at is at most {FRESHNESS_DAYS} days old (the observed value"
    " counts stale tables: 0 when fresh, 1 when the newest change is older)"
)
"""GX reports a rows expectation's observed value as a bare count; the description gives it a
unit, since a data-docs reader sees "Observed Value 0" next to it."""


def generic_rules(table: str, columns: set[str] | None = None) -> list[Rule]:
    """Every checked table should have rows after a load, and parents should be fresh.

    Warnings: an empty child table (no review has flags yet) or a quiet source is worth a look,
    not a reason to stop the pipeline.
    """
    out = [
        Rule(table, "expect_table_row_count_to_be_between", {"min_value": 1}, "warning",
             "the table has rows after a load", "generic"),
    ]  # fmt: skip
    if columns and "source_updated_at" in columns:
        query = (
            "SELECT max(source_updated_at) AS newest FROM {batch} "
            f"HAVING max(source_updated_at) < now() - interval '{FRESHNESS_DAYS} days'"
        )
        out.append(
            Rule(table, "unexpected_rows_expectation", {"unexpected_rows_query": query}, "warning",
                 FRESHNESS_RULE, "generic")
        )  # fmt: skip
    return out


def mart_rules(table: str, key: tuple[str, ...]) -> list[Rule]:
    """A mart's declared grain: its key columns are never null and unique together (blocking)."""

    def rule(kind: str, **kwargs: Any) -> Rule:
        return Rule(table, kind, kwargs, "blocking", None, "model")

    out = [rule("expect_column_values_to_not_be_null", column=column) for column in key]
    if len(key) == 1:
        out.append(rule("expect_column_values_to_be_unique", column=key[0]))
    elif key:
        out.append(rule("expect_compound_columns_to_be_unique", column_list=[*key]))
    return out


def rules_for(table: str, defs: Definitions) -> list[Rule]:
    """All rules of one table's suite: model- or grain-derived, generic, then hand-written."""
    sa_table = models.metadata.tables.get(table)
    marts = defs.mart_keys
    out: list[Rule] = []
    if sa_table is not None:
        out += model_rules(sa_table) + generic_rules(table, set(sa_table.columns.keys()))
    elif table in marts:
        out += mart_rules(table, marts[table]) + generic_rules(table)
    return out + [check_rule(c) for c in defs.checks_for(table)]


def checked_tables(defs: Definitions) -> list[str]:
    """Every table that has a suite: the models' tables and the marts."""
    tables = [t.fullname for t in models.metadata.sorted_tables if t.schema in CHECKED_SCHEMAS]
    return tables + sorted(set(defs.mart_keys) - set(tables))
