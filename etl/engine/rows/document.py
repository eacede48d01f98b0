"""`Doc`: how a transform reads one raw document without ever raising.

Every accessor coerces (etl.engine.values.coerce) and, when a value cannot be coerced, records the
reason with the field's path and returns None. The engine then adds the model's own rules (required
columns, enumerations, ranges) and rejects the document once, with every reason, if anything is
wrong. Transforms therefore stay straight-line mappings: no try/except, no None checks."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlmodel import SQLModel

from etl.engine.rows.tables import row_validator, unique_keys
from etl.engine.values import coerce

T = TypeVar("T")
_ITEM = re.compile(r"\[\d+\]")


@dataclass
class ItemReject:
    """One array item set aside by `Doc.lenient`: where it was, why, and the raw item."""

    path: str
    reasons: list[str]
    item: Any


class Doc:
    """A view of one raw document (or one nested object of it) that collects coercion errors."""

    __slots__ = ("_errors", "_item_rejects", "_prefix", "_reads", "raw")

    def __init__(
        self,
        raw: dict[str, Any],
        *,
        prefix: str = "",
        errors: list[str] | None = None,
        item_rejects: list[ItemReject] | None = None,
        reads: set[str] | None = None,
    ):
        self.raw = raw
        self._prefix = prefix
        self._errors: list[str] = [] if errors is None else errors
        self._item_rejects: list[ItemReject] = [] if item_rejects is None else item_rejects
        self._reads = reads
        """When given (`python -m etl profile`), every field path the transform reads is added:
        `actions[3].type` as `actions[].type`; a free-form subtree (json, mapping) as `path.*`."""

    @property
    def errors(self) -> list[str]:
        return self._errors

    @property
    def item_rejects(self) -> list[ItemReject]:
        return self._item_rejects

    def lenient(
        self,
        path: str,
        model: type[SQLModel],
        build: Callable[[int, Doc], dict[str, Any] | None],
    ) -> list[dict[str, Any]]:
        """Rows for child `model`, one per object in array `path`, item by item.

        For arrays whose items are independent facts (offers in a search response): an item
        whose values cannot be coerced, that breaks `model`'s rules, or that repeats an earlier
        item's unique key (the model's unique constraints) becomes an item reject with its
        reasons, and the document and its other items still load. `build(position, item)` may
        return None to skip an item deliberately.
        """
        check = row_validator(model)
        keys = unique_keys(model)
        seen: dict[tuple[tuple[str, ...], tuple[Any, ...]], str] = {}
        rows = []
        for position, item in enumerate(self._list(path)):
            where = f"{self._prefix}{path}[{position}]"
            if not isinstance(item, dict):
                reason = f"expected an object, got {type(item).__name__}"
                self._item_rejects.append(ItemReject(where, [reason], item))
                continue
            item_doc = Doc(
                item, prefix=f"{where}.", item_rejects=self._item_rejects, reads=self._reads
            )
            row = build(position, item_doc)
            if row is None:
                continue
            problems = item_doc.errors + [f"{where}.{p}" for p in check(row)]
            identities = [(columns, tuple(map(row.get, columns))) for columns in keys]
            if not problems:
                problems = [
                    f"{where}: same {', '.join(columns)} as {seen[(columns, value)]}"
                    for columns, value in identities
                    if (columns, value) in seen
                ]
            if problems:
                self._item_rejects.append(ItemReject(where, problems, item))
            else:
                seen.update(dict.fromkeys(identities, where))
                rows.append(row)
        return rows

    def error(self, path: str, reason: str) -> None:
        """Record a problem the transform found itself (e.g. end before start)."""
        self._errors.append(f"{self._prefix}{path}: {reason}")

    def _read(self, path: str) -> None:
        if self._reads is not None:
            self._reads.add(_ITEM.sub("[]", self._prefix + path))

    def _get(self, path: str) -> Any:
        if self._reads is not None:
            self._read(path)
        if "." not in path:
            return self.raw.get(path)
        value: Any = self.raw
        for part in path.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    def _coerce(self, path: str, convert: Callable[[Any], T | None]) -> T | None:
        value = self._get(path) if "." in path or self._reads is not None else self.raw.get(path)
        if value is None:
            return None
        try:
            return convert(value)
        except coerce.CoercionError as exc:
            self._errors.append(f"{self._prefix}{path}: {exc}")
            return None

    def id(self, path: str) -> str | None:
        return self._coerce(path, coerce.to_id)

    def text(self, path: str) -> str | None:
        return self._coerce(path, coerce.to_text)

    def ts(self, path: str) -> datetime | None:
        return self._coerce(path, coerce.to_datetime)

    def date(self, path: str) -> date | None:
        return self._coerce(path, coerce.to_date)

    def money(self, path: str) -> Decimal | None:
        return self._coerce(path, coerce.to_decimal)

    def int(self, path: str) -> int | None:
        return self._coerce(path, coerce.to_int)

    def float(self, path: str) -> float | None:
        return self._coerce(path, coerce.to_float)

    def bool(self, path: str) -> bool | None:
        return self._coerce(path, coerce.to_bool)

    def json(self, path: str) -> Any:
        """A free-form value kept as JSONB (BSON types rendered as JSON)."""
        if self._reads is not None:
            self._read(f"{path}.*")
            self._read(f"{path}[]")
        return self._coerce(path, coerce.to_json)

    def obj(self, path: str) -> Doc:
        """A nested fixed object (e.g. `device`); a missing one reads as empty."""
        value = self._get(path)
        if value is None:
            value = {}
        elif not isinstance(value, dict):
            self._errors.append(
                f"{self._prefix}{path}: expected an object, got {type(value).__name__}"
            )
            value = {}
        return Doc(value, prefix=f"{self._prefix}{path}.", errors=self._errors, reads=self._reads)

    def _list(self, path: str) -> list[Any]:
        value = self._get(path)
        if value is None:
            return []
        if not isinstance(value, list):
            self._errors.append(
                f"{self._prefix}{path}: expected an array, got {type(value).__name__}"
            )
            return []
        return value

    def each(self, path: str) -> Iterator[tuple[builtins.int, Doc]]:
        """(position, Doc) for each object in an array: the source of a child table's rows."""
        for position, item in enumerate(self._list(path)):
            if isinstance(item, dict):
                yield (
                    position,
                    Doc(
                        item,
                        prefix=f"{self._prefix}{path}[{position}].",
                        errors=self._errors,
                        reads=self._reads,
                    ),
                )
            else:
                where, kind = f"{self._prefix}{path}[{position}]", type(item).__name__
                self._errors.append(f"{where}: expected an object, got {kind}")

    def values(
        self, path: str, convert: Callable[[Any], Any] = coerce.to_text
    ) -> Iterator[tuple[builtins.int, Any]]:
        """(position, value) for each scalar in an array, coerced with `convert`."""
        if self._reads is not None:
            self._read(f"{path}[]")
        for position, item in enumerate(self._list(path)):
            try:
                yield position, convert(item)
            except coerce.CoercionError as exc:
                self._errors.append(f"{self._prefix}{path}[{position}]: {exc}")

    def mapping(self, path: str) -> Iterator[tuple[str, Any]]:
        """(key, value) for a free-form object whose entries become child rows."""
        if self._reads is not None:
            self._read(f"{path}.*")
        value = self._get(path)
        if value is None:
            return iter(())
        if not isinstance(value, dict):
            self._errors.append(
                f"{self._prefix}{path}: expected an object, got {type(value).__name__}"
            )
            return iter(())
        return iter(value.items())
