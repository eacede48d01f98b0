"""The marts' SQL lives in `sql/<name>.sql`: readable, highlighted, diffable on its own."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


@cache
def query(name: str) -> str:
    """The text of `sql/<name>.sql` (a SELECT; a literal % is written %%)."""
    return (SQL_DIR / f"{name}.sql").read_text()
