"""A watermark: the last (cursor value, `_id`) an asset committed for one collection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Watermark:
    """The last (cursor value, _id) an asset committed for one collection."""

    cursor_value: datetime | None
    last_id: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor_value": self.cursor_value.isoformat() if self.cursor_value else None,
            "last_id": str(self.last_id) if self.last_id is not None else None,
        }
