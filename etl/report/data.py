"""The report's queries: each reads one mart of schema `dwh`, aggregated to what its chart needs.

Aggregation happens in SQL so the report moves a few hundred rows, not the marts. A mart that
does not exist yet, or has no rows, reads as `None`, so its section can say "No data yet" instead
of failing; a query that returns nothing from a filled mart reads as `[]` (e.g. no pending
reviews). Any other database error is a bug and is raised.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Query:
    mart: str
    text: str


QUERIES: dict[str, Query] = {
    "price_dynamics": Query(
        "route_price_daily",
        """
        SELECT origin, destination, currency, search_date,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY min_price) AS median_min_price
        FROM dwh.route_price_daily
        GROUP BY origin, destination, currency, search_date
        ORDER BY origin, destination, currency, search_date
        """,
    ),
    "booking_window": Query(
        "booking_window",
        """
        SELECT origin, destination, currency, bucket, bucket_start, price_index
        FROM dwh.booking_window
        WHERE price_index IS NOT NULL
        ORDER BY origin, destination, currency, bucket_start
        """,
    ),
    "route_prices": Query(
        "route_avg_price",
        """
        SELECT origin, destination, currency, offers, avg_price, median_price,
               cheapest_airline, cheapest_airline_median
        FROM dwh.route_avg_price
        ORDER BY currency, avg_price DESC, origin, destination
        """,
    ),
    # the mart has no row for a quiet day: the calendar makes it a 0 instead of a skipped day
    "user_activity": Query(
        "user_activity_daily",
        """
        WITH daily AS (
            SELECT day, count(DISTINCT user_id) AS active_users, sum(sessions) AS sessions
            FROM dwh.user_activity_daily
            GROUP BY day
        )
        SELECT c.day::date AS day,
               coalesce(d.active_users, 0)::int AS active_users,
               coalesce(d.sessions, 0)::int AS sessions
        FROM generate_series(
            (SELECT min(day) FROM daily), (SELECT max(day) FROM daily), interval '1 day'
        ) AS c(day)
        LEFT JOIN daily AS d ON d.day = c.day::date
        ORDER BY c.day
        """,
    ),
    # percentiles over tickets (one row each), never an average of daily percentiles
    "support_sla": Query(
        "support_ticket_resolution",
        """
        SELECT issue_type,
               count(*)::int AS opened,
               count(*) FILTER (WHERE status = 'closed')::int AS closed,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes_to_close) AS median_minutes,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes_to_close) AS p90_minutes
        FROM dwh.support_ticket_resolution
        GROUP BY issue_type
        ORDER BY count(*) DESC, issue_type
        """,
    ),
    "moderation_backlog": Query(
        "moderation_summary",
        """
        SELECT product_id::text AS product_id, pending::int AS pending, reviews::int AS reviews,
               pending_backlog_hours
        FROM dwh.moderation_summary
        WHERE pending > 0
        ORDER BY pending DESC, pending_backlog_hours DESC NULLS LAST, product_id
        LIMIT 15
        """,
    ),
    "price_movers": Query(
        "product_price_movers",
        """
        SELECT mover_rank, product_id::text AS product_id, currency, price_start, price_end,
               change_abs, change_pct
        FROM dwh.product_price_movers
        ORDER BY mover_rank
        LIMIT 10
        """,
    ),
    "search_terms": Query(
        "search_terms",
        """
        SELECT query_norm, searches, distinct_users, zero_result_rate, top_filters
        FROM dwh.search_terms
        ORDER BY searches DESC, query_norm
        LIMIT 10
        """,
    ),
    "weekday_prices": Query(
        "weekday_prices",
        """
        SELECT weekday, min(weekday_name) AS weekday_name,
               avg(price_index) FILTER (WHERE weekday_kind = 'departure') AS departure_index,
               avg(price_index) FILTER (WHERE weekday_kind = 'search') AS search_index,
               count(DISTINCT (origin, destination, currency))::int AS routes
        FROM dwh.weekday_prices
        GROUP BY weekday
        ORDER BY weekday
        """,
    ),
}


def _plain(value: Any) -> Any:
    """numeric columns arrive as Decimal; charts and formatting want floats."""
    return float(value) if isinstance(value, Decimal) else value


def has_rows(conn: psycopg.Connection, mart: str) -> bool:
    """Whether `dwh.<mart>` exists and holds at least one row."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"dwh.{mart}",)).fetchone()
    if not row or not row[0]:
        return False
    exists = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier("dwh", mart))
    row = conn.execute(exists).fetchone()
    return bool(row and row[0])


def fetch(conn: psycopg.Connection, query: Query) -> Rows | None:
    """The query's rows, or None when its mart is missing or empty."""
    if not has_rows(conn, query.mart):
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query.text)
        return [{k: _plain(v) for k, v in row.items()} for row in cur.fetchall()]


RESAMPLES = 1000
SURE = 0.8
"""A cheapest window found in fewer resamples than this is reported as not yet told apart."""


@dataclass(frozen=True)
class Window:
    """The cheapest booking window over routes, and how sure the data is of it."""

    bucket: str
    index: float
    routes: int = 1
    share: float = 1.0
    """Share of bootstrap resamples of the routes in which this bucket is the cheapest."""
    runner_up: str | None = None
    runner_up_share: float = 0.0

    @property
    def sure(self) -> bool:
        return self.share >= SURE


def bucket_averages(rows: Rows) -> list[tuple[str, float]]:
    """Per bucket (in bucket_start order), the plain average of the routes' price_index:
    every route counts once, whatever its number of offers."""
    sums: dict[tuple[int, str], list[float]] = {}
    for row in rows:
        sums.setdefault((row["bucket_start"], row["bucket"]), []).append(row["price_index"])
    return [(bucket, sum(v) / len(v)) for (_, bucket), v in sorted(sums.items())]


def cheapest_window(rows: Rows, resamples: int = RESAMPLES, seed: int = 7) -> Window | None:
    """The bucket with the lowest average price_index (ties: the earlier bucket), with its
    uncertainty: the routes are resampled with replacement `resamples` times and the cheapest
    bucket found again each time; `share` is how often it is the same one. Routes are the
    independent units here (their flights share no observations)."""
    averages = bucket_averages(rows)
    if not averages:
        return None
    bucket, index = _cheapest(averages)
    by_route: dict[tuple[Any, ...], Rows] = {}
    for row in rows:
        by_route.setdefault((row["origin"], row["destination"], row["currency"]), []).append(row)
    routes = list(by_route.values())
    rng = random.Random(seed)
    wins: Counter[str] = Counter()
    for _ in range(resamples):
        sample = [row for route in rng.choices(routes, k=len(routes)) for row in route]
        wins[_cheapest(bucket_averages(sample))[0]] += 1
    others = [(b, n) for b, n in wins.most_common() if b != bucket]
    runner_up, runner_n = others[0] if others else (None, 0)
    return Window(
        bucket, index, len(routes), wins[bucket] / resamples, runner_up, runner_n / resamples
    )


def _cheapest(averages: list[tuple[str, float]]) -> tuple[str, float]:
    return min(averages, key=lambda item: item[1])  # min keeps the first of ties
