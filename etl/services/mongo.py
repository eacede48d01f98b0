"""MongoDB through pymongo: the configured server, or the embedded SecantusDB server.

`MONGO_URI` decides: `mongodb://` / `mongodb+srv://` is used as it is; unset means the embedded
server under `LOCAL_DIR/mongo` (etl.services.mongo_server), started on first use. Each caller
names the login it acts as — `etl` (the ETL reads), `generator`, `aviasales_proxy` — which picks
the embedded server's login; a configured MONGO_URI is the login this process was given (the
compose stack hands each service its own). Either way
the code above this module sees a pymongo `Database`, and one `MongoClient` per process serves
every caller (a client owns a connection pool and monitor threads: one per call would pile up
in a long-lived worker or `dag.test()`).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from bson.codec_options import CodecOptions, DatetimeConversion
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import PyMongoError

from etl.errors import ServiceUnavailable, mask_url
from etl.services import mongo_server
from etl.services.mongo_server import Login
from etl.settings import Settings, get_settings

SERVER_SELECTION_TIMEOUT_MS = 5000
READ_BATCH = 2_000
"""Documents per round trip of a long read (`cursor.batch_size`): the server's default first
batch is 101 documents, and the later ones are sized by bytes only."""
READ_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(
    tz_aware=False,
    datetime_conversion=DatetimeConversion.DATETIME_CLAMP,
    unicode_decode_error_handler="surrogateescape",
)
"""How the engine decodes documents, so that no stored value can make a read fail: a date
outside Python's range comes back clamped to year 1 or 9999 (and `coerce.to_datetime` refuses
those values, so they are rejected, never stored), invalid UTF-8 comes back with surrogates
(which the column guards refuse)."""
RAW_OPTIONS: CodecOptions[RawBSONDocument] = CodecOptions(
    document_class=RawBSONDocument,
    tz_aware=False,
    datetime_conversion=DatetimeConversion.DATETIME_CLAMP,
    unicode_decode_error_handler="surrogateescape",
)
"""Documents as the server sent them (`RawBSONDocument`): the loader hashes the bytes and
decodes only the documents whose hash changed (etl.engine.values.raw)."""

Document = dict[str, Any]

_lock = threading.Lock()
_clients: dict[tuple[int, str], MongoClient[Document]] = {}


def _fresh_lock_in_child() -> None:
    """A forked snapshot worker gets a lock of its own: the parent's may have been held by
    another thread (one connecting, say) at the fork, and would stay held in the child."""
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def mongo_uri(settings: Settings | None = None, login: Login = "etl") -> str:
    """The URI of the RAW layer's server, as `login` on the embedded server (started when none
    is configured)."""
    settings = settings or get_settings()
    if settings.mongo_uri:
        return settings.mongo_uri
    root = settings.embedded_mongo_dir.resolve()
    return mongo_server.ensure_server(root, settings.secrets_dir).uri(login)


def mongo_client(settings: Settings | None = None, login: Login = "etl") -> MongoClient[Document]:
    """This process's client for the configured server as `login` (created, and the server
    reached, on first use). A forked child gets its own: pymongo clients are not fork-safe."""
    uri = mongo_uri(settings, login)
    key = (os.getpid(), uri)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _connect(uri)
            _clients[key] = client
        return client


def mongo_database(settings: Settings | None = None, login: Login = "etl") -> Database[Document]:
    """The RAW-layer database handle, as `login`."""
    settings = settings or get_settings()
    return mongo_client(settings, login).get_database(settings.mongo_db)


def read_collection(database: Database[Any], name: str) -> Collection[Document]:
    """Collection `name` decoded with `READ_OPTIONS`."""
    return database.get_collection(name, codec_options=READ_OPTIONS)


def raw_collection(database: Database[Any], name: str) -> Collection[RawBSONDocument]:
    """Collection `name` returning documents as the server's BSON bytes (`RAW_OPTIONS`)."""
    return database.get_collection(name, codec_options=RAW_OPTIONS)


def close_clients() -> None:
    """Close this process's clients (the next call opens a new one); a forked worker drops its
    parent's without closing them, which would close the parent's sockets."""
    with _lock:
        for (pid, _), client in list(_clients.items()):
            if pid == os.getpid():
                client.close()
        _clients.clear()


def _connect(uri: str) -> MongoClient[Document]:
    # a timeout written in the URI wins (a keyword argument would override it)
    given = "serverselectiontimeoutms=" in uri.lower()
    timeout: dict[str, Any] = (
        {} if given else {"serverSelectionTimeoutMS": SERVER_SELECTION_TIMEOUT_MS}
    )
    try:
        client: MongoClient[Document] = MongoClient(uri, tz_aware=False, **timeout)
        client.admin.command("ping")
    except PyMongoError as exc:
        raise ServiceUnavailable(
            f"cannot reach MongoDB at {mask_url(uri)}: {describe(exc)}"
        ) from exc
    return client


def describe(exc: BaseException) -> str:
    """pymongo's error as one short line (its topology dumps run over many)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for tail in (", Timeout:", ", Topology Description:", " (configured timeouts:"):
        text = text.split(tail)[0]
    return text
