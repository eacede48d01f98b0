"""What a collection's documents hold, field by field, and what the transform makes of it.

`profile_documents` walks every document (or a sample): each field path (`device.type`,
`actions[].target`, `pages_visited[]`) with the BSON types seen and their counts, presence (the
share of documents that have it), a few example values, and min/max of dates and numbers. For a
collection that feeds a table asset it also runs the transform with a recording `Doc`, so the
paths it reads are known exactly (not guessed), and from that:

- unmapped fields: present in the source, read by nothing (a free-form subtree the transform
  keeps as JSONB counts as read);
- type conflicts: read paths whose values the transform could not coerce, with counts and
  example `_id`s;
- cursor health: documents whose `updated_at` is missing, not a date, or in the future.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from etl.engine.declare.assets import TableAsset
from etl.engine.rows.document import Doc
from etl.engine.values.bson import bson_type
from etl.engine.values.identity import source_key

EXAMPLES = 3
EXAMPLE_CHARS = 40
_INDEX = re.compile(r"\[\d+\]")
_ERROR_PATH = re.compile(r"^([A-Za-z0-9_.\[\]]+): ")


@dataclass
class FieldProfile:
    path: str
    documents: int = 0
    """Documents in which the path occurs at least once."""
    types: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    minimum: Any = None
    maximum: Any = None
    read: bool = False

    def presence(self, total: int) -> float:
        return self.documents / total if total else 0.0

    def note(self, value: Any) -> None:
        self.types[bson_type(value)] += 1
        if isinstance(value, dict | list):
            return
        if len(self.examples) < EXAMPLES:
            text = (
                value.isoformat(timespec="seconds") if isinstance(value, datetime)
                else str(value) if isinstance(value, ObjectId) else repr(value)
            )  # fmt: skip
            text = text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 3] + "..."
            if text not in self.examples:
                self.examples.append(text)
        if isinstance(value, datetime):
            self._span(value.replace(tzinfo=None), "date")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._span(value, "number")

    def _span(self, value: Any, kind: str) -> None:
        """min/max of one kind (dates or numbers); a field that mixes them keeps the first."""
        if self.minimum is not None and _kind(self.minimum) != kind:
            return
        if self.minimum is None or value < self.minimum:
            self.minimum = value
        if self.maximum is None or value > self.maximum:
            self.maximum = value


def _kind(value: Any) -> str:
    return "date" if isinstance(value, datetime) else "number"


@dataclass
class Conflict:
    path: str
    documents: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    example_ids: list[str] = field(default_factory=list)


@dataclass
class Profile:
    collection: str
    asset: str | None
    documents: int = 0
    fields: dict[str, FieldProfile] = field(default_factory=dict)
    reads: set[str] = field(default_factory=set)
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    cursor: Counter[str] = field(default_factory=Counter)
    """Documents by the state of their cursor field: date, missing, null, not a date, future."""

    @property
    def unmapped(self) -> list[FieldProfile]:
        """Leaf fields present in the source and read by nothing (only for asset collections)."""
        if self.asset is None:
            return []
        return [
            f
            for f in self.fields.values()
            if not f.read and not set(f.types) <= {"object", "array"}
        ]

    def to_json(self) -> dict[str, Any]:
        def one(f: FieldProfile) -> dict[str, Any]:
            return {
                "path": f.path,
                "presence": round(f.presence(self.documents), 4),
                "types": dict(f.types),
                "examples": f.examples,
                "min": plain(f.minimum),
                "max": plain(f.maximum),
                "read": f.read,
            }

        return {
            "collection": self.collection,
            "asset": self.asset,
            "documents": self.documents,
            "fields": [one(f) for f in self.fields.values()],
            "unmapped": [f.path for f in self.unmapped],
            "conflicts": [
                {
                    "path": c.path,
                    "documents": c.documents,
                    "reasons": dict(c.reasons),
                    "example_ids": c.example_ids,
                }
                for c in self.conflicts.values()
            ],
            "cursor": dict(self.cursor),
        }


def plain(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def _walk(value: Any, path: str, seen: dict[str, Any]) -> None:
    """Every (path, value) under `value`; array items share the path `name[]`."""
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            seen.setdefault(child_path, []).append(child)
            _walk(child, child_path, seen)
    elif isinstance(value, list):
        for item in value:
            item_path = f"{path}[]"
            seen.setdefault(item_path, []).append(item)
            _walk(item, item_path, seen)


def is_read(path: str, reads: set[str]) -> bool:
    """Read directly, or inside a free-form subtree the transform keeps whole (`x.*`)."""
    if path in reads:
        return True
    parts = re.split(r"(?=[.\[])", path)
    for end in range(1, len(parts)):
        prefix = "".join(parts[:end])
        if f"{prefix}.*" in reads or (f"{prefix}[]" in reads and path.startswith(f"{prefix}[]")):
            return True
    return False


def profile_documents(
    documents: Iterable[dict[str, Any]],
    collection: str,
    asset: TableAsset | None = None,
    now: datetime | None = None,
    on_document: Callable[[], None] = lambda: None,
) -> Profile:
    """The profile of `documents` (see the module docstring)."""
    result = Profile(collection, asset.name if asset else None)
    moment = (now or datetime.now(UTC)).replace(tzinfo=None)
    cursor = asset.cursor if asset else "updated_at"
    for raw in documents:
        result.documents += 1
        seen: dict[str, Any] = {}
        _walk(raw, "", seen)
        for path, values in seen.items():
            profile = result.fields.get(path) or result.fields.setdefault(path, FieldProfile(path))
            profile.documents += 1
            for value in values:
                profile.note(value)
        value = raw.get(cursor, ...)
        state = (
            "missing" if value is ... else "null" if value is None
            else "not a date" if not isinstance(value, datetime)
            else "future" if value.replace(tzinfo=None) > moment else "date"
        )  # fmt: skip
        result.cursor[state] += 1
        if asset is not None:
            _transform(asset, raw, result)
        on_document()
    if asset is not None:
        result.reads.update({"_id", cursor})  # the engine reads these itself
    for path, profile in result.fields.items():
        profile.read = is_read(path, result.reads)
    return result


def _transform(asset: TableAsset, raw: dict[str, Any], result: Profile) -> None:
    doc = Doc(raw, reads=result.reads)
    try:
        asset.transform(doc)
    except Exception as exc:  # the loader rejects such a document; here it is one more reason
        doc.errors.append(f"(transform): raised {type(exc).__name__}")
    for error in doc.errors:
        match = _ERROR_PATH.match(error)
        if match is None:
            continue
        path = _INDEX.sub("[]", match.group(1))
        conflict = result.conflicts.setdefault(path, Conflict(path))
        conflict.documents += 1
        conflict.reasons[error[match.end() :][:60]] += 1
        if len(conflict.example_ids) < EXAMPLES:
            conflict.example_ids.append(source_key(raw.get("_id")))
