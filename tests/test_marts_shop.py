"""The shop marts (schema `dwh`) against small hand-built sources whose answers are known.

Rows go straight into the `shop.*` tables; the marts are built with `materialize` on the real
embedded PostgreSQL, and every expected value below was worked out by hand from the fixture (the
comments show the arithmetic). One user/day has several sessions with several pages and actions,
several searches and a ticket: a SELECT that counted a join's fan-out would multiply them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from etl.definitions import defs
from etl.engine import RunSummary
from etl.quality import run_checkpoint

MARTS = (
    "user_activity_daily",
    "support_ticket_resolution",
    "support_ticket_sla",
    "product_price_daily",
    "product_price_movers",
    "moderation_summary",
    "search_terms",
)
PARENTS = {"user_sessions", "products", "support_tickets", "moderation_queue", "search_queries"}
D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
_source_ids = itertools.count()


def at(text: str) -> datetime:
    """An ISO timestamp; without an offset it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add(db: psycopg.Connection, table: str, **row: Any) -> None:
    """Insert one row into shop.<table>; parents get their source columns filled in."""
    if table in PARENTS:
        row = {"source_id": f"{table}-{next(_source_ids)}", "source_hash": b"\x00", **row}
    columns = ", ".join(row)
    values = ", ".join(f"%({c})s" for c in row)
    db.execute(f"INSERT INTO shop.{table} ({columns}) VALUES ({values})", row)


def session(
    db: psycopg.Connection,
    session_id: str,
    user_id: str,
    start: str,
    end: str | None,
    pages: int = 0,
    actions: int = 0,
) -> None:
    add(
        db,
        "user_sessions",
        session_id=session_id,
        user_id=user_id,
        start_time=at(start),
        end_time=at(end) if end else None,
    )
    for i in range(pages):
        add(db, "session_pages", session_id=session_id, position=i, page=f"/page/{i}")
    for i in range(actions):
        add(
            db,
            "session_actions",
            session_id=session_id,
            position=i,
            action_type="click",
            target=f"button-{i}",
            occurred_at=at(start),
        )


def search(
    db: psycopg.Connection,
    query_id: str,
    user_id: str | None,
    text: str,
    when: str,
    results: int,
    filters: tuple[str, ...] = (),
) -> None:
    add(
        db,
        "search_queries",
        query_id=query_id,
        user_id=user_id,
        query_text=text,
        searched_at=at(when),
        results_count=results,
    )
    for name in filters:
        add(db, "search_filters", query_id=query_id, name=name, value="x")


def ticket(
    db: psycopg.Connection,
    ticket_id: str,
    user_id: str,
    issue_type: str,
    status: str,
    created: str,
    updated: str,
    history: tuple[tuple[str, str], ...] = (),
) -> None:
    add(
        db,
        "support_tickets",
        ticket_id=ticket_id,
        user_id=user_id,
        status=status,
        issue_type=issue_type,
        created_at=at(created),
        updated_at=at(updated),
    )
    for i, (state, changed) in enumerate(history):
        add(
            db,
            "ticket_status_changes",
            ticket_id=ticket_id,
            position=i,
            status=state,
            changed_at=at(changed),
        )


def product(
    db: psycopg.Connection, product_id: str, currency: str, *changes: tuple[str, str]
) -> None:
    add(
        db,
        "products",
        product_id=product_id,
        current_price=Decimal(changes[-1][1]),
        currency=currency,
    )
    for i, (when, price) in enumerate(changes):
        add(
            db,
            "product_price_changes",
            product_id=product_id,
            position=i,
            changed_at=at(when),
            price=Decimal(price),
        )


def review(
    db: psycopg.Connection,
    review_id: str,
    product_id: str,
    status: str,
    rating: int,
    submitted_at: datetime,
    flags: tuple[str, ...] = (),
) -> None:
    add(
        db,
        "moderation_queue",
        review_id=review_id,
        user_id="U1",
        product_id=product_id,
        review_text="text",
        rating=rating,
        moderation_status=status,
        submitted_at=submitted_at,
    )
    for i, flag in enumerate(flags):
        add(db, "review_flags", review_id=review_id, position=i, flag=flag)


def seed_activity(db: psycopg.Connection) -> None:
    """Sessions, searches and tickets (the sources of user_activity_daily, SLA, search terms)."""
    # U1 on D1: three sessions (30 min, 45 min, one still open) with 3+2+1 pages, 2+4+0 actions
    session(db, "S1", "U1", "2026-03-01T10:00", "2026-03-01T10:30", pages=3, actions=2)
    session(db, "S2", "U1", "2026-03-01T12:00", "2026-03-01T12:45", pages=2, actions=4)
    session(db, "S3", "U1", "2026-03-02T00:00+04:00", None, pages=1)  # 20:00 UTC on D1
    session(db, "S4", "U2", "2026-03-01T09:00", "2026-03-01T09:10", actions=1)
    # crosses midnight: all 30 minutes on its start day, D2
    session(db, "S6", "U2", "2026-03-02T23:50", "2026-03-03T00:20", pages=2)
    session(db, "S5", "U3", "2026-03-02T08:00", None)

    search(db, "Q1", "U1", "  Red  Shoes", "2026-03-01T10:05", 0, ("color", "size"))
    search(db, "Q2", "U1", "red shoes", "2026-03-01T11:00", 5, ("color", "brand"))
    search(db, "Q3", "U1", "red shoes ", "2026-03-02T01:00+03:00", 0, ("size", "price"))  # D1
    search(db, "Q4", "U1", "Blue\tHat", "2026-03-01T13:00", 3)
    search(db, "Q5", "U1", "blue hat", "2026-03-02T09:00", 2, ("color",))
    search(db, "Q6", None, "RED SHOES", "2026-03-01T14:00", 7, ("brand", "color"))
    search(db, "Q7", "U2", "red\nshoes", "2026-03-01T15:00", 0, ("price",))
    search(db, "Q8", "U3", "socks", "2026-03-02T10:00", 0)

    # closed after 2 h, via a close at 16:00 and a reopening at 16:30: reopened
    ticket(db, "T1", "U1", "payment", "closed", "2026-03-01T15:00", "2026-03-01T18:00", (
        ("open", "2026-03-01T15:00"), ("closed", "2026-03-01T16:00"),
        ("open", "2026-03-01T16:30"), ("closed", "2026-03-01T17:00"),
    ))  # fmt: skip
    # closed in 30 min
    ticket(db, "T3", "U9", "payment", "closed", "2026-03-01T08:00", "2026-03-01T09:00", (
        ("open", "2026-03-01T08:00"), ("closed", "2026-03-01T08:30"),
    ))  # fmt: skip
    # closed without a 'closed' row in its history: updated_at counts, 60 min
    ticket(db, "T4", "U9", "payment", "closed", "2026-03-01T09:00", "2026-03-01T10:00")
    ticket(db, "T5", "U9", "payment", "pending", "2026-03-01T11:00", "2026-03-01T11:30", (
        ("open", "2026-03-01T11:00"), ("pending", "2026-03-01T11:30"),
    ))  # fmt: skip
    # created late on D1, closed after 200 min on D2: counts on D1
    ticket(db, "T6", "U9", "payment", "closed", "2026-03-01T23:00", "2026-03-02T02:20", (
        ("open", "2026-03-01T23:00"), ("closed", "2026-03-02T02:20"),
    ))  # fmt: skip
    # closed twice in a row: the LAST close counts (60 min), and that is no reopening
    ticket(db, "T8", "U9", "delivery", "closed", "2026-03-01T12:00", "2026-03-01T13:00", (
        ("open", "2026-03-01T12:00"), ("closed", "2026-03-01T12:10"),
        ("closed", "2026-03-01T13:00"),
    ))  # fmt: skip
    ticket(db, "T2", "U2", "delivery", "open", "2026-03-02T09:00", "2026-03-02T11:00", (
        ("open", "2026-03-02T09:00"), ("pending", "2026-03-02T10:00"),
        ("open", "2026-03-02T11:00"),
    ))  # fmt: skip
    # reopened and still open
    ticket(db, "T7", "U2", "delivery", "open", "2026-03-02T10:00", "2026-03-02T12:00", (
        ("open", "2026-03-02T10:00"), ("closed", "2026-03-02T11:00"),
        ("open", "2026-03-02T12:00"),
    ))  # fmt: skip
    # a quick payment close on D2: one closed ticket that day, so a day-weighted average of
    # daily medians (74 min) is not the median over payment tickets (60 min)
    ticket(db, "T9", "U9", "payment", "closed", "2026-03-02T10:00", "2026-03-02T10:10", (
        ("open", "2026-03-02T10:00"), ("closed", "2026-03-02T10:10"),
    ))  # fmt: skip


def seed_prices(db: psycopg.Connection) -> None:
    """Latest change day over all products: 2026-04-10, so the movers' window opens 03-12."""
    product(db, "P1", "EUR",
            ("2026-03-01T09:00", "100.00"), ("2026-03-03T10:00", "120.00"),
            ("2026-03-03T15:00", "90.00"), ("2026-04-05T12:00", "99.00"))  # fmt: skip
    product(db, "P2", "USD", ("2026-03-20T08:00", "50.00"), ("2026-04-10T08:00", "40.00"))
    product(db, "P3", "USD",
            ("2026-02-01T12:00", "200.00"), ("2026-04-10T10:00", "210.00"),
            ("2026-04-10T12:00", "230.00"))  # fmt: skip
    # a change the day before the window (03-11) and one on its first day (03-12)
    product(db, "P4", "EUR",
            ("2026-03-05T10:00", "10.00"), ("2026-03-11T23:00", "12.00"),
            ("2026-03-12T00:30", "15.00"))  # fmt: skip
    # starts inside the window with two changes on its first day
    product(db, "P5", "GBP", ("2026-03-25T09:00", "80.00"), ("2026-03-25T17:00", "88.00"))


def seed_moderation(db: psycopg.Connection, now: datetime) -> None:
    review(db, "R1", "P1", "approved", 5, now - timedelta(hours=100), ("spam", "rude"))
    review(db, "R2", "P1", "rejected", 2, now - timedelta(hours=90), ("spam",))
    review(db, "R3", "P1", "pending", 4, now - timedelta(hours=50))
    review(db, "R4", "P1", "pending", 3, now - timedelta(hours=10))
    review(db, "R5", "P2", "pending", 1, now - timedelta(hours=2), ("offensive",))
    review(db, "R6", "P6", "approved", 4, now - timedelta(hours=300))
    review(db, "R7", "P6", "approved", 5, now - timedelta(hours=250))
    review(db, "R8", "P6", "rejected", 4, now - timedelta(hours=200))


@pytest.fixture
def shop(db: psycopg.Connection) -> dict[str, Any]:
    """The whole fixture in the shop tables; returns the reference time of the reviews."""
    now = datetime.now(UTC)
    seed_activity(db)
    seed_prices(db)
    seed_moderation(db, now)
    return {"db": db, "now": now}


def build(*names: str, full_refresh: bool = False) -> RunSummary:
    summary = defs.materialize(",".join(names or MARTS), full_refresh=full_refresh)
    assert summary.ok, [(o.name, o.status, o.error) for o in summary.outcomes]
    assert {o.name for o in summary.outcomes} == set(names or MARTS)  # the marts only
    return summary


def rows(db: psycopg.Connection, sql: str) -> list[tuple[Any, ...]]:
    return db.execute(sql).fetchall()


def contents(db: psycopg.Connection, table: str) -> list[tuple[Any, ...]]:
    return sorted(db.execute(f"SELECT * FROM dwh.{table}").fetchall(), key=repr)


def dec(*values: str | None) -> tuple[Decimal | None, ...]:
    return tuple(None if v is None else Decimal(v) for v in values)


# -- the column contract --------------------------------------------------------------------------

CONTRACT = {
    "user_activity_daily": [
        ("user_id", "text"), ("day", "date"), ("sessions", "integer"),
        ("session_minutes", "numeric(10,2)"), ("median_session_minutes", "numeric(10,2)"),
        ("pages", "integer"), ("actions", "integer"), ("searches", "integer"),
        ("zero_result_searches", "integer"), ("tickets_opened", "integer"),
    ],
    "support_ticket_resolution": [
        ("ticket_id", "text"), ("issue_type", "text"), ("status", "text"), ("day", "date"),
        ("minutes_to_close", "double precision"), ("reopened", "boolean"),
    ],
    "support_ticket_sla": [
        ("day", "date"), ("issue_type", "text"), ("opened", "integer"), ("closed", "integer"),
        ("pending", "integer"), ("still_open", "integer"),
        ("median_minutes_to_close", "numeric(10,1)"), ("p90_minutes_to_close", "numeric(10,1)"),
        ("reopened", "integer"),
    ],
    "product_price_daily": [
        ("product_id", "text"), ("day", "date"), ("currency", "character(3)"),
        ("price", "numeric(12,2)"), ("changes", "integer"), ("min_price", "numeric(12,2)"),
        ("max_price", "numeric(12,2)"),
    ],
    "product_price_movers": [
        ("product_id", "text"), ("currency", "character(3)"), ("price_start", "numeric(12,2)"),
        ("price_end", "numeric(12,2)"), ("change_abs", "numeric(12,2)"),
        ("change_pct", "numeric(8,2)"), ("mover_rank", "integer"),
    ],
    "moderation_summary": [
        ("product_id", "text"), ("reviews", "integer"), ("avg_rating", "numeric(3,2)"),
        ("approved", "integer"), ("rejected", "integer"), ("pending", "integer"),
        ("approval_rate", "numeric(5,4)"), ("flags", "integer"),
        ("flags_per_review", "numeric(6,3)"), ("oldest_pending_at", "timestamp with time zone"),
        ("pending_backlog_hours", "numeric(10,1)"),
    ],
    "search_terms": [
        ("query_norm", "text"), ("searches", "integer"), ("distinct_users", "integer"),
        ("zero_result_rate", "numeric(5,4)"), ("top_filters", "text"),
    ],
}  # fmt: skip


def test_every_mart_has_the_contracted_columns_and_types(shop: dict[str, Any]) -> None:
    build()
    for table, expected in CONTRACT.items():
        columns = rows(
            shop["db"],
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            f"WHERE attrelid = 'dwh.{table}'::regclass AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
        )
        assert columns == expected, table


# -- user activity --------------------------------------------------------------------------------

# user, day: sessions, minutes, median, pages, actions, searches, zero-result, tickets
ACTIVITY = {
    # 30 + 45 min (S3 has no end); median of (30, 45) = 37.5; Q1-Q4 (Q3 is 22:00 UTC on D1)
    ("U1", D1): (3, *dec("75.00", "37.50"), 6, 6, 4, 2, 1),
    ("U1", D2): (0, None, None, 0, 0, 1, 0, 0),  # Q5 only
    ("U2", D1): (1, *dec("10.00", "10.00"), 0, 1, 1, 1, 0),  # S4, Q7
    ("U2", D2): (1, *dec("30.00", "30.00"), 2, 0, 0, 0, 2),  # S6 (over midnight), T2, T7
    ("U3", D2): (1, None, None, 0, 0, 1, 1, 0),  # S5 without end, Q8
    ("U9", D1): (0, None, None, 0, 0, 0, 0, 5),  # T3, T4, T5, T6, T8
    ("U9", D2): (0, None, None, 0, 0, 0, 0, 1),  # T9
}


def activity(db: psycopg.Connection) -> dict[tuple[str, date], tuple[Any, ...]]:
    return {(r[0], r[1]): r[2:] for r in rows(db, "SELECT * FROM dwh.user_activity_daily")}


def test_user_activity_daily_counts_each_source_once(shop: dict[str, Any]) -> None:
    build("user_activity_daily")
    assert activity(shop["db"]) == ACTIVITY


def test_user_activity_daily_rebuilds_only_the_changed_day(shop: dict[str, Any]) -> None:
    db = shop["db"]
    first = build("user_activity_daily")
    assert first["user_activity_daily"].result.note == "full build"
    # a value set by hand on another day shows that day is not rebuilt
    db.execute(
        "UPDATE dwh.user_activity_daily SET sessions = 99 WHERE user_id = 'U2' AND day = %s", [D1]
    )
    session(db, "S9", "U1", "2026-03-05T14:00", "2026-03-05T14:20", pages=2, actions=3)

    second = build("user_activity_daily")
    result = second["user_activity_daily"].result
    assert result.note == "1 partition(s) rebuilt"
    assert result.rows_written == {"dwh.user_activity_daily": 1}
    expected = dict(ACTIVITY)
    expected["U2", D1] = (99, *ACTIVITY["U2", D1][1:])
    expected["U1", date(2026, 3, 5)] = (1, *dec("20.00", "20.00"), 2, 3, 0, 0, 0)
    assert activity(db) == expected

    assert build("user_activity_daily")["user_activity_daily"].result.note == (
        "0 partition(s) rebuilt"
    )
    refreshed = build("user_activity_daily", full_refresh=True)
    assert refreshed["user_activity_daily"].result.note == "full build"
    expected["U2", D1] = ACTIVITY["U2", D1]
    assert activity(db) == expected


# -- support SLA ----------------------------------------------------------------------------------


RESOLUTION = {
    # ticket: issue type, status, creation day, minutes to close, reopened
    "T1": ("payment", "closed", D1, 120.0, True),  # closed, reopened, closed: the last close
    "T3": ("payment", "closed", D1, 30.0, False),
    "T4": ("payment", "closed", D1, 60.0, False),  # no 'closed' in its history: updated_at
    "T5": ("payment", "pending", D1, None, False),
    "T6": ("payment", "closed", D1, 200.0, False),  # closed on D2, created on D1
    "T8": ("delivery", "closed", D1, 60.0, False),  # closed twice: the last close
    "T2": ("delivery", "open", D2, None, False),
    "T7": ("delivery", "open", D2, None, True),
    "T9": ("payment", "closed", D2, 10.0, False),
}


def test_support_ticket_resolution(shop: dict[str, Any]) -> None:
    build("support_ticket_resolution")
    got = rows(shop["db"], "SELECT * FROM dwh.support_ticket_resolution")
    assert {r[0]: r[1:] for r in got} == RESOLUTION


def test_support_ticket_sla(shop: dict[str, Any]) -> None:
    build("support_ticket_resolution", "support_ticket_sla")
    got = {(r[0], r[1]): r[2:] for r in rows(shop["db"], "SELECT * FROM dwh.support_ticket_sla")}
    assert got == {
        # opened, closed, pending, still_open, median, p90, reopened
        # closed in 30 (T3), 60 (T4, updated_at), 120 (T1, last close), 200 (T6) minutes:
        # median = (60 + 120) / 2 = 90; p90 at rank 0.9 * 3 = 2.7: 120 + 0.7 * 80 = 176
        (D1, "payment"): (5, 4, 1, 0, *dec("90.0", "176.0"), 1),
        (D1, "delivery"): (1, 1, 0, 0, *dec("60.0", "60.0"), 0),  # T8, last of two closes
        (D2, "delivery"): (2, 0, 0, 2, None, None, 1),  # T7 reopened, T2 never closed
        (D2, "payment"): (1, 1, 0, 0, *dec("10.0", "10.0"), 0),  # T9
    }


def interpolated(values: list[float], q: float) -> float:
    """percentile_cont, written out: linear interpolation between the ordered values."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def test_the_reports_support_figures_are_percentiles_over_tickets(shop: dict[str, Any]) -> None:
    from etl.report.data import QUERIES, fetch

    build("support_ticket_resolution")
    got = {r["issue_type"]: r for r in fetch(shop["db"], QUERIES["support_sla"]) or []}
    for issue in ("payment", "delivery"):
        tickets = [v for v in RESOLUTION.values() if v[0] == issue]
        closed = [v[3] for v in tickets if v[3] is not None]
        assert got[issue]["opened"] == len(tickets)
        assert got[issue]["closed"] == len(closed)
        assert got[issue]["median_minutes"] == pytest.approx(interpolated(closed, 0.5))
        assert got[issue]["p90_minutes"] == pytest.approx(interpolated(closed, 0.9))
    # payment over tickets: [10, 30, 60, 120, 200] -> median 60, p90 120 + 0.6 * 80 = 168
    assert (got["payment"]["median_minutes"], got["payment"]["p90_minutes"]) == (60.0, 168.0)


# -- prices ---------------------------------------------------------------------------------------


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def test_product_price_daily(shop: dict[str, Any]) -> None:
    db = shop["db"]
    build("product_price_daily")
    last = date(2026, 4, 10)
    counts = dict(rows(db, "SELECT product_id, count(*) FROM dwh.product_price_daily GROUP BY 1"))
    # from each product's first change day to 04-10, the latest change day of all products
    assert counts == {"P1": 41, "P2": 22, "P3": 69, "P4": 37, "P5": 17}
    assert rows(db, "SELECT min(day), max(day) FROM dwh.product_price_daily") == [
        (date(2026, 2, 1), last)
    ]

    p1 = rows(
        db, "SELECT day, price FROM dwh.product_price_daily WHERE product_id = 'P1' ORDER BY day"
    )
    expected_p1 = (
        [(d, Decimal("100.00")) for d in days(D1, D2)]
        + [(d, Decimal("90.00")) for d in days(date(2026, 3, 3), date(2026, 4, 4))]
        + [(d, Decimal("99.00")) for d in days(date(2026, 4, 5), last)]
    )
    assert p1 == expected_p1  # carried forward over the days without changes

    got = {(r[0], r[1]): r[2:] for r in rows(db, "SELECT * FROM dwh.product_price_daily")}
    # currency, price (end of day), changes, min, max (start-of-day price and the day's changes)
    expected = {
        ("P1", D1): ("EUR", Decimal("100.00"), 1, *dec("100.00", "100.00")),  # no opening price
        ("P1", D2): ("EUR", Decimal("100.00"), 0, *dec("100.00", "100.00")),
        ("P1", date(2026, 3, 3)): ("EUR", Decimal("90.00"), 2, *dec("90.00", "120.00")),
        ("P1", date(2026, 3, 4)): ("EUR", Decimal("90.00"), 0, *dec("90.00", "90.00")),
        ("P1", date(2026, 4, 5)): ("EUR", Decimal("99.00"), 1, *dec("90.00", "99.00")),
        ("P1", last): ("EUR", Decimal("99.00"), 0, *dec("99.00", "99.00")),
        # opened at 200, changed to 210 then 230: the opening price is the day's minimum
        ("P3", last): ("USD", Decimal("230.00"), 2, *dec("200.00", "230.00")),
        ("P3", date(2026, 4, 9)): ("USD", Decimal("200.00"), 0, *dec("200.00", "200.00")),
        ("P2", date(2026, 3, 20)): ("USD", Decimal("50.00"), 1, *dec("50.00", "50.00")),
        ("P2", last): ("USD", Decimal("40.00"), 1, *dec("40.00", "50.00")),
        ("P5", date(2026, 3, 25)): ("GBP", Decimal("88.00"), 2, *dec("80.00", "88.00")),
        ("P4", date(2026, 3, 11)): ("EUR", Decimal("12.00"), 1, *dec("10.00", "12.00")),
    }
    assert {k: got[k] for k in expected} == expected
    assert ("P2", date(2026, 3, 19)) not in got  # nothing before a product's first change


def test_product_price_movers(shop: dict[str, Any]) -> None:
    build("product_price_movers")
    got = rows(shop["db"], "SELECT * FROM dwh.product_price_movers ORDER BY mover_rank")
    # window 03-12 .. 04-10
    assert got == [
        # 12.00 in force when the window opens (03-11 change), 15.00 on its first day: +25 %
        ("P4", "EUR", *dec("12.00", "15.00", "3.00", "25.00"), 1),
        # starts inside the window: its first price; a drop ranks by its absolute size
        ("P2", "USD", *dec("50.00", "40.00", "-10.00", "-20.00"), 2),
        ("P3", "USD", *dec("200.00", "230.00", "30.00", "15.00"), 3),
        ("P1", "EUR", *dec("90.00", "99.00", "9.00", "10.00"), 4),
        # ties with P1 at 10 %: product_id decides; the first price of its first day, not 88
        ("P5", "GBP", *dec("80.00", "88.00", "8.00", "10.00"), 5),
    ]


# -- moderation -----------------------------------------------------------------------------------


def test_moderation_summary(shop: dict[str, Any]) -> None:
    now = shop["now"]
    build("moderation_summary")
    got = {r[0]: r[1:] for r in rows(shop["db"], "SELECT * FROM dwh.moderation_summary")}
    backlog = {product_id: row[-1] for product_id, row in got.items()}
    # built a few seconds after `now`: 50 h and 2 h, give or take the test's own run time
    assert abs(backlog["P1"] - Decimal(50)) <= Decimal("0.1")
    assert abs(backlog["P2"] - Decimal(2)) <= Decimal("0.1")
    assert backlog["P6"] is None
    assert {product_id: row[:-1] for product_id, row in got.items()} == {
        # (5 + 2 + 4 + 3) / 4 = 3.5; 1 / (1 + 1); 3 flags over 4 reviews; oldest pending R3
        "P1": (4, Decimal("3.50"), 1, 1, 2, Decimal("0.5000"), 3, Decimal("0.750"),
               now - timedelta(hours=50)),
        # nothing decided yet: no approval rate
        "P2": (1, Decimal("1.00"), 0, 0, 1, None, 1, Decimal("1.000"), now - timedelta(hours=2)),
        # (4 + 5 + 4) / 3 = 4.33; 2 / 3 = 0.6667; no pending review
        "P6": (3, Decimal("4.33"), 2, 1, 0, Decimal("0.6667"), 0, Decimal("0.000"), None),
    }  # fmt: skip


# -- search terms ---------------------------------------------------------------------------------


def test_search_terms(shop: dict[str, Any]) -> None:
    build("search_terms")
    got = rows(shop["db"], "SELECT * FROM dwh.search_terms ORDER BY query_norm")
    assert got == [
        # Q4 'Blue\tHat' and Q5; only Q5 used a filter
        ("blue hat", 2, 1, Decimal("0.0000"), "color"),
        # Q1 '  Red  Shoes', Q2, Q3 'red shoes ', Q6 'RED SHOES' (anonymous), Q7 'red\nshoes':
        # users U1, U2; Q1, Q3, Q7 found nothing: 3 / 5; filters color 3, then brand, price
        # and size 2 each: the first two by name
        ("red shoes", 5, 2, Decimal("0.6000"), "color, brand, price"),
        ("socks", 1, 1, Decimal("1.0000"), None),
    ]


# -- determinism ----------------------------------------------------------------------------------


def test_rebuilding_gives_identical_contents(shop: dict[str, Any]) -> None:
    db = shop["db"]
    build()
    first = {table: contents(db, table) for table in MARTS}
    assert all(first.values())
    build(full_refresh=True)  # every mart again from scratch, the incremental one too
    assert {table: contents(db, table) for table in MARTS} == first


# -- expectations ---------------------------------------------------------------------------------


def failures(table: str) -> list[str]:
    """The blocking failures of a mart's checkpoint, in a stable order."""
    return sorted(run_checkpoint(table, defs).blocking_failures)


def test_the_expectations_pass_on_the_fixture_and_catch_broken_rows(shop: dict[str, Any]) -> None:
    db = shop["db"]
    build()
    for table in MARTS:
        result = run_checkpoint(f"dwh.{table}", defs)
        assert (result.blocking_failures, result.warnings) == ([], []), table
        assert result.evaluated >= 3, table

    db.execute(
        "UPDATE dwh.user_activity_daily SET zero_result_searches = 9, pages = 1"
        " WHERE user_id = 'U1' AND day = %s",
        [D2],
    )
    assert failures("dwh.user_activity_daily") == sorted(
        [
            "zero-result searches are a subset of the day's searches [1 unexpected]",
            "a day without sessions has no session minutes, pages or actions [1 unexpected rows]",
        ]
    )
    db.execute(
        "UPDATE dwh.support_ticket_resolution SET minutes_to_close = NULL WHERE ticket_id = 'T1'"
    )
    assert failures("dwh.support_ticket_resolution") == [
        "a ticket has a time to close exactly when it is closed [1 unexpected rows]"
    ]
    db.execute("UPDATE dwh.support_ticket_sla SET p90_minutes_to_close = 1, opened = 9")
    assert failures("dwh.support_ticket_sla") == sorted(
        [
            "every opened ticket is closed, pending or still open; reopened <= opened "
            "[4 unexpected rows]",
            "the median time to close is at most the p90 [3 unexpected]",
        ]
    )
    db.execute("UPDATE dwh.product_price_daily SET min_price = 95 WHERE product_id = 'P1'")
    db.execute("DELETE FROM dwh.product_price_daily WHERE product_id = 'P2' AND day = '2026-04-01'")
    assert failures("dwh.product_price_daily") == sorted(
        [
            "min_price <= price <= max_price on every day [33 unexpected rows]",  # days at 90
            "every product has one row per day, without gaps, up to the same last day "
            "[1 unexpected rows]",
        ]
    )
    db.execute("UPDATE dwh.product_price_movers SET mover_rank = 1, change_abs = 0")
    assert failures("dwh.product_price_movers") == sorted(
        [
            "each rank is given to one product [5 unexpected]",
            "change_abs = price_end - price_start [5 unexpected rows]",
        ]
    )
    db.execute("UPDATE dwh.moderation_summary SET approval_rate = 2, pending = 0")
    assert failures("dwh.moderation_summary") == sorted(
        [
            "the approval rate is a share between 0 and 1 [3 unexpected]",
            "every review is approved, rejected or pending; a backlog only with pending ones "
            "[2 unexpected rows]",
        ]
    )
    db.execute("UPDATE dwh.search_terms SET zero_result_rate = 1.5, distinct_users = 9")
    assert failures("dwh.search_terms") == sorted(
        [
            "the zero-result rate is a share between 0 and 1 [3 unexpected]",
            "a term has no more distinct users than searches [3 unexpected]",
        ]
    )
