"""What each section of the report says: its title, caption, and how its rows become a chart or
a table. Kept apart from the queries and the drawing so the wording can be read in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from etl.engine.observe.drift import Drift
from etl.report import charts
from etl.report.data import Rows, cheapest_window
from etl.report.page import Cell, Section, html_table


@dataclass(frozen=True)
class Spec:
    name: str  # the key of data.QUERIES, the anchor and the PNG file name
    title: str
    caption: str
    fill: Callable[[Section, Rows], None]  # sets png or table (and headline) from non-empty rows
    nothing: str = "Nothing to show yet."  # when the mart has rows but the query finds none


NONE = "\u2013"  # en dash: an empty cell


def money(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}".replace(",", "\u2009")


def percent(value: float | None, signed: bool = False) -> str:
    return NONE if value is None else f"{value:+.1f} %" if signed else f"{value:.1f} %"


def index(value: float | None) -> str:
    return NONE if value is None else f"{value:.3f} ({100 * (value - 1):+.1f} %)"


def fill_booking(section: Section, rows: Rows) -> None:
    window = cheapest_window(rows)
    assert window is not None  # rows are non-empty and every price_index is set
    section.headline = charts.window_summary(window)
    section.png = charts.booking_window(rows, window)


def movers_table(section: Section, rows: Rows) -> None:
    table: list[list[Cell]] = []
    for r in rows:
        pct = r["change_pct"]
        direction = "down" if (pct or 0) < 0 else "up" if (pct or 0) > 0 else ""
        table.append([str(r["mover_rank"]), r["product_id"], r["currency"].upper(),
                      money(r["price_start"]), money(r["price_end"]),
                      (money(r["change_abs"]), direction),
                      (percent(pct, signed=True), direction)])  # fmt: skip
    headers = ["#", "product", "currency", "price at start", "price at end", "change", "change %"]
    section.table = html_table(headers, table, numeric={0, 3, 4, 5, 6})


def terms_table(section: Section, rows: Rows) -> None:
    table: list[list[Cell]] = [
        [r["query_norm"], f"{r['searches']:,}", f"{r['distinct_users']:,}",
         percent(100 * r["zero_result_rate"] if r["zero_result_rate"] is not None else None),
         r["top_filters"] or NONE]
        for r in rows
    ]  # fmt: skip
    headers = ["term", "searches", "users", "zero-result rate", "top filters"]
    section.table = html_table(headers, table, numeric={1, 2, 3})


def weekday_table(section: Section, rows: Rows) -> None:
    best = {
        kind: min((r[kind] for r in rows if r[kind] is not None), default=None)
        for kind in ("departure_index", "search_index")
    }

    def cell(row: dict[str, Any], kind: str) -> Cell:
        value = row[kind]
        return index(value), "best" if value is not None and value == best[kind] else ""

    table = [[r["weekday_name"], cell(r, "departure_index"), cell(r, "search_index")] for r in rows]
    headers = ["weekday", "departing that day", "searching that day"]
    section.table = html_table(headers, table, numeric={1, 2})


def chart(draw: Callable[[Rows], bytes]) -> Callable[[Section, Rows], None]:
    def fill(section: Section, rows: Rows) -> None:
        section.png = draw(rows)

    return fill


SPECS: list[Spec] = [
    Spec(
        "price_dynamics",
        "Price dynamics per route",
        "One panel per route (currency in brackets). Each point is a search day: the cheapest "
        "offer of every departure day searched that day, then the median over those departure "
        "days — how the cheapest fares move day by day. The corner shows the change from the "
        "first to the last search day.",
        chart(charts.price_dynamics),
    ),
    Spec(
        "booking_window",
        "Booking window: how far ahead to buy",
        "Price index by days before departure. The index compares the same flight at different "
        "distances from departure, so season and airline cancel out: 1.0 = that flight's "
        "average, 0.90 = 10 % cheaper. Thin grey lines: one per route; bold blue: the plain "
        "average over routes; green: the bucket where that average is lowest. How sure: the "
        "routes are resampled with replacement 1,000 times and the cheapest bucket found "
        "again; below 80 % agreement the headline names the bucket it cannot be told from.",
        fill_booking,
        "No route has a flight seen on consecutive search days yet, so no index can be computed.",
    ),
    Spec(
        "route_prices",
        "Average price per route",
        "Average and median fare over every offer collected on the route, in the route's "
        "currency; the label names the airline with the lowest median fare on that route. "
        "A median well below the average means a tail of expensive offers.",
        chart(charts.route_prices),
    ),
    Spec(
        "user_activity",
        "User activity over time",
        "Daily active users = distinct signed-in users who started a session, searched or opened "
        "a support ticket that UTC day; sessions are counted on the day they started.",
        chart(charts.user_activity),
    ),
    Spec(
        "support_sla",
        "Support SLA by issue type",
        "Over all creation days. Median and p90 time to close are taken over the closed "
        "tickets themselves (interpolated between tickets), from the ticket-level mart "
        "support_ticket_resolution. Opened = tickets created; closed = those of them closed "
        "now, so the gap is the open backlog.",
        chart(charts.support_sla),
    ),
    Spec(
        "moderation_backlog",
        "Moderation backlog",
        "The 15 products with the most reviews waiting for moderation, and how long the oldest "
        "of them had waited when the mart was built.",
        chart(charts.moderation_backlog),
        "No reviews are pending: the moderation backlog is empty.",
    ),
    Spec(
        "price_movers",
        "Top 10 price movers",
        "Products whose price moved most (absolute %) over the last 30 days of price data; "
        "green = cheaper, red = dearer.",
        movers_table,
    ),
    Spec(
        "search_terms",
        "Top 10 search terms",
        "The most searched terms (lower-cased, spaces normalised). Zero-result rate = share of "
        "their searches that found nothing: candidates for synonyms or new assortment.",
        terms_table,
    ),
    Spec(
        "weekday_prices",
        "Weekday price index",
        "Averaged over routes. Departing: the weekday's average fare / the route's average "
        "(1.05 = flying that day costs 5 % more). Searching: each offer against the same "
        "flight's average (0.98 = searching that day finds it 2 % cheaper). Bold = cheapest.",
        weekday_table,
    ),
]


def build(spec: Spec, rows: Rows | None) -> Section:
    """The section of `spec`; rows None (mart missing or empty) leaves the "No data yet" note."""
    section = Section(spec.name, spec.title, spec.caption)
    if rows is None:
        return section
    if not rows:
        section.note = spec.nothing
        return section
    spec.fill(section, rows)
    return section


DRIFT_TITLE = "Schema drift"
DRIFT_CAPTION = (
    "Fields and types the source documents started to hold after each asset's first load, "
    "from the field inventory the loader keeps on every run: when they appeared (the run), in "
    "how many documents. A new field is read by no transform until the model and the transform "
    "take it (`python -m etl drift` prints the column it would become)."
)


def drift_section(found: list[Drift]) -> Section:
    """The report's drift card: a table of what appeared, or a note that nothing did."""
    section = Section("schema_drift", DRIFT_TITLE, DRIFT_CAPTION)
    if not found:
        section.note = "No field or type appeared after the first loads."
        return section
    rows: list[list[Cell]] = [
        [d.asset, d.path, d.bson_type, d.kind, f"{d.documents:,}",
         d.first_seen_at.strftime("%Y-%m-%d %H:%M UTC"), d.first_run]
        for d in found
    ]  # fmt: skip
    headers = ["asset", "field", "type", "kind", "documents", "first seen", "run"]
    section.table = html_table(headers, rows, numeric={4})
    section.headline = f"{len(found)} new field(s) or type(s) since the first loads"
    section.warning = True  # drift is something to adopt or fix, not a finding to celebrate
    return section
