"""A document's identity in PostgreSQL: its `_id` as text, equal only for equal BSON values.

`source_id` is the key that links every normalised row to the one document it came from, so two
documents must never share one (loading contract: exact identity). Printing the `_id` is not
enough: an ObjectId and its hex string, or the integer 77 and the string "77", print alike. So:

- an ObjectId, the common case, is its 24 hex digits (readable, and what users search for);
- every other type is written `<type>:<value>` (`str:77`, `int:77`, `uuid:…`), and never looks
  like 24 hex digits, because it has a colon;
- a value that cannot be written plainly (a string with NUL, which PostgreSQL text cannot hold;
  an embedded document; any other BSON type) is `json:` + its canonical extended JSON;
- a form longer than `MAX_PLAIN` characters becomes `sha256:` + the hash of that form, so the
  unique index on `source_id` can hold it (PostgreSQL refuses btree entries over ~2.7 kB).

The mapping is a function of the BSON value alone, so the same document always gets the same
`source_id`, and `source_ids` computed from an `_id`-only scan match the stored ones exactly.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import Decimal128, ObjectId, json_util
from bson.int64 import Int64

from etl.engine.values.guards import text_problem

MAX_PLAIN = 512
_CANONICAL = json_util.CANONICAL_JSON_OPTIONS


def source_key(value: Any) -> str:
    """The exact, injective text form of a BSON `_id` value (see the module docstring)."""
    if type(value) is ObjectId:
        return str(value)
    key = _tagged(value)
    if len(key) > MAX_PLAIN:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def _tagged(value: Any) -> str:
    if type(value) is str:
        if text_problem(value):  # NUL or a lone surrogate: PostgreSQL text cannot hold it
            return "json:" + json_util.dumps(value, json_options=_CANONICAL)
        return "str:" + value
    if isinstance(value, bool):
        return "bool:" + ("true" if value else "false")
    if isinstance(value, int | Int64):
        return f"int:{int(value)}"
    if isinstance(value, float):
        return "double:" + repr(value)
    if isinstance(value, Decimal128):
        return f"decimal:{value.to_decimal()}"
    if isinstance(value, uuid.UUID):
        return f"uuid:{value}"
    if isinstance(value, datetime):
        return "date:" + value.isoformat()
    if value is None:
        return "null"
    try:
        return "json:" + json_util.dumps(value, json_options=_CANONICAL)
    except (TypeError, ValueError, OverflowError):  # not representable: still exact per value
        return "repr:" + repr(value)


_PLAIN: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "double": float,
    "uuid": uuid.UUID,
    "date": datetime.fromisoformat,
}


def parse_source_key(key: str) -> tuple[bool, Any]:
    """The `_id` a `source_id` was made from: (True, value), or (False, None) for the forms
    that cannot be reversed (`sha256:`, `repr:`)."""
    if ":" not in key:
        return (True, ObjectId(key)) if key != "null" else (True, None)
    tag, _, text = key.partition(":")
    if tag in _PLAIN:
        return True, _PLAIN[tag](text)
    if tag == "bool":
        return True, text == "true"
    if tag == "decimal":
        return True, Decimal128(text)
    if tag == "json":
        return True, json_util.loads(text, json_options=_CANONICAL)
    return False, None
