"""MongoDB: a real server through pymongo, or montydb on disk through the same API.

`MONGO_URI` decides: `mongodb://` / `mongodb+srv://` → pymongo; unset or `montydb://PATH` →
montydb with sqlite storage (default path `LOCAL_DIR/mongo`), which separate processes can share.
Callers get a database handle and must keep to the pymongo API subset montydb implements too
(find with filter/projection/sort/limit, insert_many, update_one/many, replace_one, delete_many,
count_documents, create_index); see docs/architecture.md.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from bson.codec_options import CodecOptions, DatetimeConversion

from etl.errors import ServiceUnavailable, UserFacingError, mask_url
from etl.settings import Settings, get_settings

SERVER_SELECTION_TIMEOUT_MS = 5000
READ_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(
    tz_aware=False,
    datetime_conversion=DatetimeConversion.DATETIME_CLAMP,
    unicode_decode_error_handler="surrogateescape",
)
"""How the engine decodes documents, so that no stored value can make a read fail: a date
outside Python's range comes back clamped to year 1 or 9999 (and `coerce.to_datetime` refuses
those values, so they are rejected, never stored), invalid UTF-8 comes back with surrogates
(which the column guards refuse). montydb decodes every document to filter it, so without these
options one bad date would break every query on its collection."""
_monty_lock = threading.Lock()
_monty_clients: dict[Path, Any] = {}


def is_montydb(uri: str | None) -> bool:
    return not uri or uri.startswith("montydb://")


def mongo_database(settings: Settings | None = None) -> Any:
    """The RAW-layer database handle (pymongo `Database` or montydb `MontyDatabase`)."""
    settings = settings or get_settings()
    uri = settings.mongo_uri
    if not uri or is_montydb(uri):
        path = Path(uri[len("montydb://") :]) if uri else settings.embedded_mongo_dir
        return _monty_client(path.resolve())[settings.mongo_db]
    if uri.startswith(("mongodb://", "mongodb+srv://")):
        return _pymongo_client(uri).get_database(settings.mongo_db)
    raise UserFacingError(
        f"MONGO_URI must start with mongodb://, mongodb+srv:// or montydb://, got {mask_url(uri)}"
    )


def id_projection(database: Any) -> dict[str, int] | None:
    """The projection of an `_id`-only scan: `{"_id": 1}` for a server (it sends less), None
    for montydb, which applies projections in Python: there reading whole documents is cheaper
    (measured: an `_id`-only scan of 13,700 small documents 0.55 s, the plain scan 0.2 s)."""
    return None if type(database).__module__.startswith("montydb") else {"_id": 1}


def read_collection(database: Any, name: str) -> Any:
    """Collection `name` decoded with `READ_OPTIONS` (pymongo and montydb alike)."""
    return database.get_collection(name, codec_options=READ_OPTIONS)


def forget_clients() -> None:
    """Drop cached montydb clients without closing them: a forked worker process calls this,
    so it opens its own sqlite connections instead of sharing its parent's."""
    with _monty_lock:
        _monty_clients.clear()


def _monty_client(path: Path) -> Any:
    from montydb import MontyClient, set_storage

    with _monty_lock:
        client = _monty_clients.get(path)
        if client is None:
            if not (path / "monty.storage.cfg").exists():
                path.mkdir(parents=True, exist_ok=True)
                set_storage(str(path), storage="sqlite", use_bson=True)
            client = MontyClient(str(path))
            _monty_clients[path] = client
        return client


def _pymongo_client(uri: str) -> Any:
    import pymongo
    from pymongo.errors import PyMongoError

    try:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri,
            serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
            tz_aware=False,
        )
        client.admin.command("ping")
    except PyMongoError as exc:
        reason = str(exc).split(",")[0]
        raise ServiceUnavailable(f"cannot reach MongoDB at {mask_url(uri)}: {reason}") from exc
    return client
