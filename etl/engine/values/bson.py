"""BSON type names (MongoDB's `$type` aliases) of decoded values, and which of them order as
MongoDB orders them within their type bracket."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from bson.int64 import Int64


def bson_type(value: Any) -> str:
    """MongoDB's name for the BSON type of a decoded value (`$type` aliases)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, Decimal128 | Decimal):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bytes):
        return "binData"
    return type(value).__name__


BRACKETS = {
    "objectId": "objectId",
    "string": "string",
    "int": "number",
    "long": "number",
    "double": "number",
    "date": "date",
}
"""BSON types (bson_type) whose Python ordering is MongoDB's within their
bracket, with the bracket's `$type` alias: the types a range boundary may have."""
