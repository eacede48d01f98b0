"""Source documents as the server sent them: identity and hash from the bytes, decoding only
when a document changed.

Reads ask pymongo for `RawBSONDocument`s (etl.services.mongo.RAW_OPTIONS): the server's BSON
bytes, undecoded. Decoding a document costs far more than hashing its bytes (about 15 µs
against 1 µs for a 500-byte session), and on a re-read most documents are unchanged, so the
loader takes the `_id` and the hash from the bytes and decodes only the rest.

In-memory sources (the benchmark, tests) may hand plain dicts; they go through the same
functions, encoded once for the hash.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument

from etl.engine.values.identity import source_key
from etl.services.mongo import READ_OPTIONS

SourceDocument = Mapping[str, Any]
"""A document as a source yields it: a `RawBSONDocument` from a server, or a dict."""

_OBJECT_ID_FIRST = b"\x07_id\x00"


def document_bytes(doc: SourceDocument) -> bytes:
    """The document's BSON: the server's bytes as they are, or a dict encoded.

    For a document that survives a decode/encode round trip (every document whose dates are
    inside Python's range and whose strings are valid UTF-8) both give the same bytes, so a hash
    stored from a decoded document matches the raw one: hashes are compatible across the change.
    """
    if type(doc) is RawBSONDocument:
        return bytes(doc.raw)
    try:
        return bson.encode(doc)
    except Exception:  # not re-encodable (e.g. invalid UTF-8 read with surrogateescape)
        return repr(sorted(doc.items(), key=lambda kv: str(kv[0]))).encode("utf-8", "replace")


def decoded(doc: SourceDocument) -> dict[str, Any]:
    """The document as Python values (`READ_OPTIONS`: no stored value can make this fail)."""
    if type(doc) is RawBSONDocument:
        return bson.decode(doc.raw, READ_OPTIONS)
    return doc if isinstance(doc, dict) else dict(doc)


def identify(doc: SourceDocument, key: bytes) -> tuple[str, bytes]:
    """(`source_id`, `document_hash`) of a document, the loader's first step for every document
    read, so its common case is kept short: a server's document whose `_id` is an ObjectId
    (stored first) gives both from its bytes, without building an ObjectId. KeyError: no `_id`.
    """
    if type(doc) is RawBSONDocument:
        data = doc.raw
        hasher = _keyed(key).copy()
        hasher.update(data)
        if data[4:9] == _OBJECT_ID_FIRST:
            return data[9:21].hex(), hasher.digest()  # = source_key(ObjectId(...))
        return source_key(doc["_id"]), hasher.digest()
    return source_key(doc["_id"]), document_hash(doc, key)


def hash_key(code_version: str) -> bytes:
    """The key of `document_hash` for an asset: its transform's version (a changed transform
    makes every stored hash stale, so unchanged documents are rewritten once)."""
    return code_version.encode()[:64]


def document_hash(doc: SourceDocument, key: bytes) -> bytes:
    """The stored `source_hash`: the document's BSON bytes, keyed by the transform version."""
    hasher = _keyed(key).copy()  # copying a keyed state is cheaper than keying a new one
    hasher.update(document_bytes(doc))
    return hasher.digest()


@functools.lru_cache(maxsize=64)
def _keyed(key: bytes) -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16, key=key)


# -- one top-level field, read from the bytes ------------------------------------------------

BSON_DATE = 0x09
_SIZE = [-9] * 256
"""Bytes of an element's value after its name, by BSON type; negative: how to read it."""
for _type, _size in {1: 8, 6: 0, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8, 19: 16}.items():
    _SIZE[_type] = _size
_SIZE[0xFF] = _SIZE[0x7F] = 0  # MinKey, MaxKey
for _type in (2, 13, 14):  # string, code, symbol: int32 length + bytes
    _SIZE[_type] = -1
for _type in (3, 4, 15):  # document, array, code with scope: int32 total size
    _SIZE[_type] = -3
_SIZE[5] = -5  # binary: int32 length + subtype + bytes
_SIZE[11] = -11  # regex: two C strings
_SIZE[12] = -12  # DBPointer: string + 12 bytes
_int32 = struct.Struct("<i").unpack_from
_int64 = struct.Struct("<q").unpack_from


def top_level_field(data: bytes | memoryview, name: bytes) -> tuple[int, int] | None:
    """(BSON type, offset of the value) of top-level field `name` (its UTF-8 bytes followed
    by NUL) in a BSON document, None when it has none. Walks the top-level elements only,
    skipping each value by its size: a few microseconds, where decoding the document takes
    fifteen. Raises ValueError on bytes that are not BSON (callers then decode)."""
    pos, end = 4, len(data) - 1
    buffer = bytes(data) if isinstance(data, memoryview) else data
    find, starts = buffer.find, buffer.startswith
    while pos < end:
        kind = buffer[pos]
        if starts(name, pos + 1):
            return kind, pos + 1 + len(name)
        value = find(b"\x00", pos + 1) + 1
        if value == 0:
            raise ValueError("an element name without its NUL")
        size = _SIZE[kind]
        if size >= 0:
            pos = value + size
        elif size == -1:
            pos = value + 4 + _int32(buffer, value)[0]
        elif size == -3:
            pos = value + _int32(buffer, value)[0]
        elif size == -5:
            pos = value + 5 + _int32(buffer, value)[0]
        elif size == -11:
            pos = find(b"\x00", find(b"\x00", value) + 1) + 1
        elif size == -12:
            pos = value + 16 + _int32(buffer, value)[0]
        else:
            raise ValueError(f"unknown BSON type {kind:#x}")
    return None


def date_millis(doc: SourceDocument, field: str) -> int | None:
    """Top-level field `field` as milliseconds since the epoch when it is a BSON date, else
    None (missing, null, or another type), read from the bytes of a raw document."""
    if type(doc) is RawBSONDocument:
        data = doc.raw
        try:
            found = top_level_field(data, field.encode() + b"\x00")
        except (ValueError, IndexError, struct.error):
            found = None
            value = decoded(doc).get(field)
            if type(value) is datetime:
                return int((value - _EPOCH) // _MILLISECOND)
        if found is None or found[0] != BSON_DATE:
            return None
        # clamped to Python's datetime range, as decoding with DATETIME_CLAMP does
        return max(_MIN_MS, min(_MAX_MS, int(_int64(data, found[1])[0])))
    value = doc.get(field)
    if type(value) is not datetime:
        return None
    naive = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    return int((naive - _EPOCH) // _MILLISECOND)


def millis(moment: datetime) -> int:
    """A naive UTC datetime as milliseconds since the epoch (`datetime.max` included)."""
    return int((moment - _EPOCH) // _MILLISECOND)


_EPOCH = datetime(1970, 1, 1)
_MILLISECOND = timedelta(milliseconds=1)
_MIN_MS, _MAX_MS = millis(datetime.min), millis(datetime.max)
