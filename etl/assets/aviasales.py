"""Air-fare searches: the proxy's request logs → `aviasales.request_logs` and `aviasales.tickets`.

One asset writes both tables, as `user_sessions` writes its pages and actions: an offer belongs
to the search that found it, so a re-loaded log replaces its offers in the same transaction.
Offers are independent facts, so a bad one (no price, a broken code, a duplicate) is rejected on
its own (`Doc.lenient`) and the search's other offers still load.

The log document is the proxy's (`ingest/aviasales/proxy.py`, `LOG_COLLECTION`): the
validated `request`, the upstream `response` body unchanged, status, timings, `searched_at`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from etl.engine import (
    AssetResult,
    Doc,
    Rows,
    RunContext,
    asset_check,
    ingest_asset,
    table_asset,
)
from etl.errors import UserFacingError
from ingest.aviasales.log import LOG_COLLECTION
from models.aviasales import RequestLog, Ticket

GROUP = "aviasales"


@ingest_asset("collect_fares", writes=(LOG_COLLECTION,), group=GROUP)
def collect_fares(ctx: RunContext) -> AssetResult:
    """Search today's fares for every route and departure day through the logging proxy.

    The first step of the aviasales group: each run pulls fresh prices (AVIASALES_ROUTES,
    AVIASALES_WINDOW_DAYS ...). Every call is logged by the proxy, failures included; the step
    fails only if no search at all was answered.
    """
    from ingest.aviasales.collector import collect

    stats = collect(
        ctx.settings,
        ctx.mongo,
        progress=lambda done, total: ctx.progress("collect_fares", done, total),
    )
    result = AssetResult(
        note=f"{stats.ok} of {stats.calls} searches answered, {stats.offers} offers"
    )
    result.add_rows(f"mongo:{LOG_COLLECTION}", stats.calls)
    if stats.calls and not stats.ok:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(stats.statuses.items(), key=str))
        raise UserFacingError(
            f"none of {stats.calls} searches was answered ({statuses}); the calls are logged "
            f"in {LOG_COLLECTION} and will load as failed requests"
        )
    return result


def requested_day(request: Doc, field: str) -> date | None:
    """A requested departure or return day; None for a whole-month query ("2026-12")."""
    value = request.text(field)
    return request.date(field) if value and len(value) == 10 else None


@table_asset(
    source=LOG_COLLECTION,
    parent=RequestLog,
    children=(Ticket,),
    group=GROUP,
    name="request_logs",
    partitioned=True,  # one document per fare search, with every offer: the bulk of the data
)
def request_logs(doc: Doc) -> Rows:
    """Every call made through the proxy (failures included) and the offers each one found."""
    request, response = doc.obj("request"), doc.obj("response")
    currency = (response.text("currency") or "").upper() or None
    found_at = doc.ts("searched_at")
    status = doc.int("status_code")

    def offer(position: int, item: Doc) -> dict[str, Any]:
        departs, returns = item.ts("departure_at"), item.ts("return_at")
        if departs and returns and returns < departs:
            item.error("return_at", "is before departure_at")
        if departs and found_at and departs <= found_at:  # a stale cached offer: unbookable
            item.error("departure_at", "is not after the search that found it")
        return {
            "position": position,
            "origin": item.text("origin"),
            "destination": item.text("destination"),
            "origin_airport": item.text("origin_airport"),
            "destination_airport": item.text("destination_airport"),
            "airline": item.text("airline"),
            "flight_number": item.text("flight_number"),
            "departure_at": departs,
            "departure_date": item.date("departure_at"),
            "return_at": returns,
            "price": item.money("price"),
            "currency": currency,
            "transfers": item.int("transfers"),
            "return_transfers": item.int("return_transfers"),
            "duration": item.int("duration"),
            "duration_to": item.int("duration_to"),
            "duration_back": item.int("duration_back"),
            "link": item.text("link"),
            "found_at": found_at,
        }

    tickets = doc.lenient("response.data", Ticket, offer)
    data = response.raw.get("data")
    return {
        RequestLog: {
            "request_id": doc.id("_id"),
            "origin": request.text("origin"),
            "destination": request.text("destination"),
            "departure_date": requested_day(request, "departure_at"),
            "return_date": requested_day(request, "return_at"),
            "one_way": request.bool("one_way"),
            "search_date": doc.date("search_date"),
            "status_code": status,
            "success": status == 200 and response.raw.get("success") is True,
            "latency_ms": doc.float("latency_ms"),
            "attempts": doc.int("attempts"),
            "currency": currency,
            "n_offers": len(data) if isinstance(data, list) else 0,
            "requested_at": doc.ts("requested_at"),
            "error": doc.text("error"),
        },
        Ticket: tickets,
    }


ASSETS = (collect_fares, request_logs)

CHECKS = (
    asset_check(
        request_logs,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        table="aviasales.tickets",
        description="a return flight leaves after the outbound one",
        column_A="return_at",
        column_B="departure_at",
        ignore_row_if="either_value_is_missing",
    ),
    asset_check(
        request_logs,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        table="aviasales.tickets",
        description="an offer departs after the search that found it",
        column_A="departure_at",
        column_B="found_at",
        ignore_row_if="either_value_is_missing",
    ),
    asset_check(
        request_logs,
        "unexpected_rows_expectation",
        "blocking",
        description="a search counts as successful only with a 200 answer",
        unexpected_rows_query=(
            "SELECT r.request_id, r.status_code FROM (SELECT * FROM {batch}) r"
            " WHERE r.success AND r.status_code IS DISTINCT FROM 200"
        ),
    ),
    asset_check(
        request_logs,
        "unexpected_rows_expectation",
        "warning",
        description="every offer of a search was loaded (the others are in etl.rejects)",
        unexpected_rows_query=(
            "SELECT r.request_id, r.n_offers, count(t.position) AS loaded"
            " FROM (SELECT * FROM {batch}) r LEFT JOIN aviasales.tickets t USING (request_id)"
            " GROUP BY r.request_id, r.n_offers HAVING r.n_offers <> count(t.position)"
        ),
    ),
)
