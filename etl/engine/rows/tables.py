"""What the loader needs to know about one table, derived once from its SQLModel class.

Column order, the primary key, the columns the engine fills itself (source_* and the child's
parent key), JSON columns that must be serialised for COPY, and a validator compiled from the
model's rules (models.base.column_rules) so a bad row is rejected with readable reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import SQLModel

from etl.engine.values.guards import compile_guards
from etl.engine.values.lazy import cached_attribute
from models.base import column_rules, table_of

SOURCE_COLUMNS = ("source_id", "source_updated_at", "source_hash")
DATABASE_FILLED = ("loaded_at",)
"""Columns PostgreSQL fills (`DEFAULT now()` on insert, set again by the merge on update): left out
of COPY so the stamp is the loading transaction's time, which incremental marts compare with."""

Validator = Callable[[dict[str, Any]], list[str]]


@dataclass(frozen=True, eq=False)  # identity hash: layouts key per-batch dicts
class TableLayout:
    model: type[SQLModel]
    schema: str
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    parent_key: str | None
    """For a child table: its column that references the parent's key."""
    stamped: bool
    """Has a `loaded_at` column that the merge sets to now() on update."""
    json_columns: tuple[int, ...]
    validate: Validator
    supplied: frozenset[str]
    """The columns a transform gives (all but the engine-filled ones)."""
    required: frozenset[str]
    """The supplied columns without a default: a row must name each of them."""

    @cached_attribute
    def pick(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """The row's values in column order (`operator.itemgetter`, always a tuple)."""
        getter = itemgetter(*self.columns)
        if len(self.columns) == 1:
            return lambda row: (getter(row),)
        return getter

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def stage_ident(self) -> sql.Identifier:
        return sql.Identifier(f"stage__{self.schema}__{self.name}")

    def column_list(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)

    def shape_problem(self, row: dict[str, Any]) -> str | None:
        """Why a transform's row does not fit this table (an unknown or a missing key), or None.

        A misspelt key must not load as NULL: this is a bug in the transform, not in the data.
        """
        keys = row.keys()
        unknown = sorted(keys - self.supplied)
        if unknown:
            return f"{self.qualified} has no column {unknown[0]!r}"
        missing = sorted(self.required - keys)
        if missing:
            return f"the row for {self.qualified} has no {missing[0]!r} (the column has no default)"
        return None

    def to_tuple(self, row: dict[str, Any]) -> tuple[Any, ...]:
        try:
            values = self.pick(row)  # every column present: one C call
        except KeyError:  # an optional column left out: it loads as NULL
            values = tuple(map(row.get, self.columns))
        if not self.json_columns:
            return values
        out = list(values)
        for i in self.json_columns:  # validated by the JSON guard (etl.engine.values.guards)
            if out[i] is not None:
                out[i] = json.dumps(out[i], ensure_ascii=False, allow_nan=False, default=str)
        return tuple(out)


def layout_of(model: type[SQLModel], parent: type[SQLModel] | None = None) -> TableLayout:
    table = table_of(model)
    columns = tuple(c.name for c in table.columns if c.name not in DATABASE_FILLED)
    parent_key = None
    if parent is not None:
        parent_table = table_of(parent)
        for fk in table.foreign_keys:
            if fk.column.table is parent_table:
                parent_key = fk.parent.name
        if parent_key is None:
            raise ValueError(f"{table.fullname} has no foreign key to {parent_table.fullname}")
    engine_filled = {*SOURCE_COLUMNS, parent_key}
    supplied = frozenset(c for c in columns if c not in engine_filled)
    defaults = {name for name, f in model.model_fields.items() if not f.is_required()}
    json_columns = tuple(
        i for i, name in enumerate(columns) if isinstance(table.columns[name].type, JSONB)
    )
    return TableLayout(
        model=model,
        schema=table.schema or "public",
        name=table.name,
        columns=columns,
        primary_key=tuple(c.name for c in table.primary_key.columns),
        parent_key=parent_key,
        stamped="loaded_at" in table.columns,
        json_columns=json_columns,
        validate=_compile_validator(model, skip=engine_filled),
        supplied=supplied,
        required=frozenset(supplied - defaults),
    )


@cache
def row_validator(model: type[SQLModel]) -> Validator:
    """The model's rules for rows a transform builds (engine-filled keys are not checked)."""
    table = table_of(model)
    foreign_keys = {fk.parent.name for fk in table.foreign_keys}
    return _compile_validator(model, skip={*SOURCE_COLUMNS, *foreign_keys})


@cache
def unique_keys(model: type[SQLModel]) -> tuple[tuple[str, ...], ...]:
    """The model's unique constraints, without the parent-key column: what must not repeat
    among one document's items (the parent key is the same for all of them)."""
    table = table_of(model)
    foreign_keys = {fk.parent.name for fk in table.foreign_keys}
    return tuple(
        tuple(c.name for c in constraint.columns if c.name not in foreign_keys)
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
    )


def _compile_validator(model: type[SQLModel], skip: set[str | None]) -> Validator:
    table = table_of(model)
    guards = compile_guards(table, skip)
    rules = [r for r in column_rules(model) if r.column not in skip]
    required = tuple(r.column for r in rules if r.required)
    choices = tuple((r.column, frozenset(r.choices)) for r in rules if r.choices)
    ranges = tuple((r.column, r.ge, r.le) for r in rules if r.ge is not None or r.le is not None)
    patterns = tuple((r.column, re.compile(r.pattern)) for r in rules if r.pattern)

    def validate(row: dict[str, Any]) -> list[str]:
        errors: list[str] = []
        if required and None in map(row.get, required):  # one C-level pass when all are set
            for column in required:
                if row.get(column) is None:
                    errors.append(f"{column}: required, missing or null")
        for column, allowed in choices:
            value = row.get(column)
            if value is not None and value not in allowed:
                errors.append(f"{column}: {value!r} is not one of {', '.join(sorted(allowed))}")
        for column, ge, le in ranges:
            value = row.get(column)
            if value is None:
                continue
            if (ge is not None and value < ge) or (le is not None and value > le):
                bounds = f"{'' if ge is None else ge}..{'' if le is None else le}"
                errors.append(f"{column}: {value!r} is out of range {bounds}")
        for column, pattern in patterns:
            value = row.get(column)
            if value is not None and not pattern.search(str(value)):
                errors.append(f"{column}: {value!r} does not match {pattern.pattern}")
        for guard in guards:
            guard(row, errors)
        return errors

    return validate
