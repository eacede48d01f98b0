"""The tables a mart's SQL reads, found by parsing it (sqlglot), so its upstream assets are
derived from the query and can never disagree with it.

Tables must be schema-qualified (`shop.user_sessions`); names defined by the query itself (CTEs)
are not tables. psycopg placeholders (`%(partitions)s`) and `%%` are neutralised before parsing.
"""

from __future__ import annotations

import logging
import re
from functools import cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from etl.engine.values.errors import AssetDeclarationError

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
logging.getLogger("sqlglot").setLevel(logging.WARNING)
"""sqlglot logs an INFO note for each array index it rewrites while parsing: noise in every
DAG-processor log that imports the definitions, and nothing a reader can act on."""


@cache
def tables_read(sql: str) -> frozenset[str]:
    """Qualified names of the tables `sql` reads; raises for an unqualified, unknown name."""
    text = _PLACEHOLDER.sub("NULL", sql).replace("%%", "%")
    try:
        statements = [s for s in sqlglot.parse(text, read="postgres") if s is not None]
    except ParseError as exc:
        first = str(exc).splitlines()[0]
        raise AssetDeclarationError(f"cannot parse the SQL: {first}") from None
    tables: set[str] = set()
    for statement in statements:
        local = {cte.alias for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if table.db:
                tables.add(f"{table.db}.{table.name}")
            elif table.name and table.name not in local:
                raise AssetDeclarationError(
                    f"table {table.name!r} is not schema-qualified (write schema.{table.name})"
                )
    return frozenset(tables)
