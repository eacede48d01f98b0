"""Column helpers (named like types) and the rule that turns field rules into CHECK constraints.

A field says its rules once, in Python: `Field(ge=1, le=5)` or a `Literal[...]` annotation. The
`@checked` decorator turns them into named CHECK constraints on the table, and the ETL engine
reads the same rules (`column_rules`) to reject a bad row in Python with a readable reason before
it ever reaches PostgreSQL. One source of truth, two enforcers.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args, get_origin

import annotated_types as at
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TIMESTAMPTZ = sa.DateTime(timezone=True)
MONEY = sa.Numeric(12, 2)


def Timestamp(**kwargs: Any) -> Any:
    """A timestamptz column (UTC); naive values are taken as UTC by the engine."""
    return Field(sa_type=TIMESTAMPTZ, **kwargs)


def Money(**kwargs: Any) -> Any:
    """NUMERIC(12,2), never negative."""
    kwargs.setdefault("ge", 0)
    return Field(sa_type=MONEY, **kwargs)


def Json(**kwargs: Any) -> Any:
    """A free-form object kept as JSONB."""
    return Field(sa_type=JSONB, **kwargs)


def Text(**kwargs: Any) -> Any:
    """Unbounded text (also for Literal enumerations, which get a CHECK constraint)."""
    return Field(sa_type=sa.Text, **kwargs)


def ParentKey(parent_column: str, **kwargs: Any) -> Any:
    """Child → parent foreign key, part of the child's primary key, deleted with the parent."""
    return Field(
        sa_type=sa.Text, foreign_key=parent_column, primary_key=True, ondelete="CASCADE", **kwargs
    )


class SourceTracked(SQLModel):
    """Columns every normalised parent row keeps about the Mongo document it came from."""

    source_id: str = Field(sa_type=sa.Text, unique=True, description="Mongo _id as text")
    source_updated_at: datetime | None = Timestamp(index=True)
    source_hash: bytes = Field(
        sa_type=sa.LargeBinary, description="Hash of the raw document and the transform version"
    )
    loaded_at: datetime = Timestamp(
        index=True,
        sa_column_kwargs={"server_default": sa.func.now()},
        description="When the row was last written (the loading transaction's start)",
    )


@dataclass(frozen=True)
class ColumnRule:
    """A Python-checkable rule for one column, mirrored by a CHECK constraint in the database."""

    column: str
    required: bool
    choices: tuple[str, ...] | None = None
    ge: Decimal | int | float | None = None
    le: Decimal | int | float | None = None
    pattern: str | None = None


M = TypeVar("M", bound=type[SQLModel])


def table_of(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy table of a SQLModel table class (SQLModel sets it, untyped)."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model (declare it with table=True)")
    return table


def checked(model: M) -> M:
    """Class decorator: add CHECK constraints for the `Literal`, ge/le and pattern rules."""
    table = table_of(model)
    for rule in column_rules(model):
        col: sa.ColumnClause[Any] = sa.column(rule.column)
        if rule.choices is not None:
            table.append_constraint(sa.CheckConstraint(col.in_(rule.choices), name=rule.column))
        if rule.ge is not None or rule.le is not None:
            parts = []
            if rule.ge is not None:
                parts.append(col >= rule.ge)
            if rule.le is not None:
                parts.append(col <= rule.le)
            check = sa.CheckConstraint(sa.and_(*parts), name=f"{rule.column}_range")
            table.append_constraint(check)
        if rule.pattern is not None:
            table.append_constraint(
                sa.CheckConstraint(col.regexp_match(rule.pattern), name=f"{rule.column}_format")
            )
    return model


def column_rules(model: type[SQLModel]) -> list[ColumnRule]:
    """The rules declared on a model's fields (required-ness, choices, ranges, patterns)."""
    table = table_of(model)
    rules = []
    for name, field in model.model_fields.items():
        column = table.columns.get(name)
        if column is None:
            continue
        annotation = field.annotation
        if get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        choices = tuple(get_args(annotation)) if get_origin(annotation) is Literal else None
        ge = le = pattern = None
        for meta in field.metadata:
            if isinstance(meta, at.Ge):
                ge = meta.ge
            elif isinstance(meta, at.Le):
                le = meta.le
            elif hasattr(meta, "pattern") and isinstance(meta.pattern, str):
                pattern = meta.pattern
        required = not column.nullable and column.server_default is None
        if required or choices or ge is not None or le is not None or pattern:
            rules.append(ColumnRule(name, required, choices, ge, le, pattern))  # type: ignore[arg-type]
    return rules
