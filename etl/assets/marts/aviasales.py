"""Aviasales marts (schema `dwh`): what the collected fares say about routes and when to buy.

All four read the offers in `aviasales.tickets` (and, for the search day, their request logs).
A route is (origin, destination); `currency` is in every grain, so prices in different
currencies never mix. Each mart's SQL (`sql/<name>.sql`) explains its grain and method in its
header; the expectations below say what a correct result looks like (key not-null/uniqueness
come from `key`).
"""

from __future__ import annotations

from etl.assets.marts.queries import query
from etl.engine import AssetCheck, Incremental, SqlAsset, asset_check, sql_asset

GROUP = "dwh"
ROUTE = ("origin", "destination", "currency")

route_price_daily = sql_asset(
    "route_price_daily",
    sql=query("route_price_daily"),
    group=GROUP,
    key=(*ROUTE, "departure_date", "search_date"),
    incremental=Incremental("search_date", query("route_price_daily__changed")),
    description=(
        "Fares of one departure day as seen on one search day, per route and currency: "
        "offers, minimum, median and average price, share of direct offers. search_date is "
        "the day the search was made (from its request log); rebuilt by search day."
    ),
)

route_avg_price = sql_asset(
    "route_avg_price",
    sql=query("route_avg_price"),
    group=GROUP,
    key=ROUTE,
    description=(
        "Price level of each route and currency over all collected searches: searches that "
        "found offers, offers, average, median and minimum price, and the airline with the "
        "lowest median price on the route (ties: the first airline code)."
    ),
)

booking_window = sql_asset(
    "booking_window",
    sql=query("booking_window"),
    group=GROUP,
    key=(*ROUTE, "bucket_start"),
    description=(
        "When to buy: offers per route, currency and days-before-departure bucket (1-3 ... "
        "121+). avg_price and median_price are plain statistics of the bucket's offers and mix "
        "in the season of the flights found. price_index is the relative price of the same "
        "flight at this distance from departure (0.90 = 10 % below that flight's average), "
        "chained from the day-to-day price changes of flights followed over consecutive "
        "search days; NULL where no flight was followed. is_cheapest marks the bucket with "
        "the lowest price_index of the route."
    ),
)

weekday_prices = sql_asset(
    "weekday_prices",
    sql=query("weekday_prices"),
    group=GROUP,
    key=(*ROUTE, "weekday_kind", "weekday"),
    description=(
        "Prices by weekday (ISO, 1 = Monday) of the departure or of the search, per route and "
        "currency. price_index for a departure weekday: its average price / the route's "
        "average; for a search weekday: the average of price / the same flight's average "
        "price, so season and departure day cancel (0.98 = 2 % below that flight's average)."
    ),
)

# -- expectations: each can only fail when the SQL (or the data under it) is wrong: blocking

route_price_daily_checks = (
    asset_check(
        route_price_daily,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="the median price is never below the minimum price",
        column_A="median_price",
        column_B="min_price",
        or_equal=True,
    ),
    asset_check(
        route_price_daily,
        "expect_column_values_to_be_between",
        "blocking",
        description="the share of direct offers is between 0 and 1",
        column="direct_share",
        min_value=0,
        max_value=1,
    ),
)

route_avg_price_checks = (
    asset_check(
        route_avg_price,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="the cheapest airline's median is not below the route's minimum price",
        column_A="cheapest_airline_median",
        column_B="min_price",
        or_equal=True,
    ),
    asset_check(
        route_avg_price,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="every counted search found at least one offer on the route",
        column_A="offers",
        column_B="searches",
        or_equal=True,
    ),
)


def positive_index(mart: SqlAsset) -> AssetCheck:
    return asset_check(
        mart,
        "expect_column_values_to_be_between",
        "blocking",
        description="a price index is positive",
        column="price_index",
        min_value=0,
        strict_min=True,
    )


booking_window_checks = (
    positive_index(booking_window),
    asset_check(
        booking_window,
        "unexpected_rows_expectation",
        "blocking",
        description="a route with a price index has exactly one cheapest bucket, others have none",
        unexpected_rows_query=(
            "SELECT origin, destination, currency, count(*) FILTER (WHERE is_cheapest) AS cheapest"
            " FROM (SELECT * FROM {batch}) b GROUP BY origin, destination, currency"
            " HAVING count(*) FILTER (WHERE is_cheapest)"
            " <> CASE WHEN count(price_index) > 0 THEN 1 ELSE 0 END"
        ),
    ),
)

weekday_prices_checks = (
    asset_check(
        weekday_prices,
        "expect_column_values_to_be_between",
        "blocking",
        description="weekdays are ISO numbers, 1 = Monday to 7 = Sunday",
        column="weekday",
        min_value=1,
        max_value=7,
    ),
    positive_index(weekday_prices),
)

CHECKS: tuple[AssetCheck, ...] = (
    *route_price_daily_checks,
    *route_avg_price_checks,
    *booking_window_checks,
    *weekday_prices_checks,
)

ASSETS = (route_price_daily, route_avg_price, booking_window, weekday_prices)
