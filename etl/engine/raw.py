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

import hashlib
from collections.abc import Mapping
from typing import Any

import bson
from bson.objectid import ObjectId
from bson.raw_bson import RawBSONDocument

from etl.services.mongo import READ_OPTIONS

SourceDocument = Mapping[str, Any]
"""A document as a source yields it: a `RawBSONDocument` from a server, or a dict."""

_OBJECT_ID_FIRST = b"\x07_id\x00"


def document_id(doc: SourceDocument) -> Any:
    """The `_id` (KeyError when there is none). A server stores `_id` first, so an ObjectId
    `_id` is read from its 12 bytes without decoding the rest of the document."""
    if type(doc) is RawBSONDocument:
        data = doc.raw
        if data[4:9] == _OBJECT_ID_FIRST:
            return ObjectId(bytes(data[9:21]))
    return doc["_id"]


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


def hash_key(code_version: str) -> bytes:
    """The key of `document_hash` for an asset: its transform's version (a changed transform
    makes every stored hash stale, so unchanged documents are rewritten once)."""
    return code_version.encode()[:64]


def document_hash(doc: SourceDocument, key: bytes) -> bytes:
    """The stored `source_hash`: the document's BSON bytes, keyed by the transform version."""
    return hashlib.blake2b(document_bytes(doc), digest_size=16, key=key).digest()
