"""The web shop's marts (schema `dwh`): activity, support SLA, prices, moderation, search terms.

Each mart is one SELECT in `sql/<name>.sql` (its header comment explains the grain and the
choices), declared here with its grain (`key`) and the expectations that say what a correct
result looks like. Not-null and uniqueness of the key are derived from `key`; the rules below are
the ones only the meaning of the columns can give. Every SELECT aggregates each source to the
mart's grain before joining, so a join never multiplies a count.
"""

from __future__ import annotations

from etl.assets.marts.queries import query
from etl.engine import AssetCheck, Incremental, asset_check, sql_asset

GROUP = "dwh"

# --- user activity per day ---------------------------------------------------------------------

user_activity_daily = sql_asset(
    "user_activity_daily",
    sql=query("user_activity_daily"),
    group=GROUP,
    key=("user_id", "day"),
    description=(
        "One row per user and UTC day with any activity: sessions (by start day) with their "
        "minutes, pages and actions, searches (and those with no result), support tickets opened."
    ),
    incremental=Incremental(partition="day", changed=query("user_activity_daily__changed")),
)

user_activity_daily_checks = (
    asset_check(
        user_activity_daily,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="zero-result searches are a subset of the day's searches",
        column_A="searches",
        column_B="zero_result_searches",
        or_equal=True,
    ),
    asset_check(
        user_activity_daily,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="the median session is no longer than the day's total session time",
        column_A="session_minutes",
        column_B="median_session_minutes",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    ),
    asset_check(
        user_activity_daily,
        "unexpected_rows_expectation",
        "blocking",
        description="a day without sessions has no session minutes, pages or actions",
        unexpected_rows_query=(
            "SELECT a.user_id, a.day FROM (SELECT * FROM {batch}) a WHERE a.sessions = 0 "
            "AND (a.pages > 0 OR a.actions > 0 OR a.session_minutes IS NOT NULL)"
        ),
    ),
)

# --- support tickets: resolution per ticket, SLA per creation day and issue type ---------------

support_ticket_resolution = sql_asset(
    "support_ticket_resolution",
    sql=query("support_ticket_resolution"),
    group=GROUP,
    key=("ticket_id",),
    description=(
        "One row per support ticket: issue type, current status, UTC creation day, minutes to "
        "its last close (closed tickets), whether it was reopened after a close. Percentiles of "
        "time to close over any set of tickets come from here."
    ),
)

support_ticket_resolution_checks = (
    asset_check(
        support_ticket_resolution,
        "unexpected_rows_expectation",
        "blocking",
        description="a ticket has a time to close exactly when it is closed",
        unexpected_rows_query=(
            "SELECT r.ticket_id FROM (SELECT * FROM {batch}) r "
            "WHERE (r.status = 'closed') <> (r.minutes_to_close IS NOT NULL)"
        ),
    ),
)


support_ticket_sla = sql_asset(
    "support_ticket_sla",
    sql=query("support_ticket_sla"),
    group=GROUP,
    key=("day", "issue_type"),
    description=(
        "Support tickets per UTC creation day and issue type: opened, current status counts, "
        "median and p90 minutes to the last close, tickets reopened after a close."
    ),
)

support_ticket_sla_checks = (
    asset_check(
        support_ticket_sla,
        "unexpected_rows_expectation",
        "blocking",
        description="every opened ticket is closed, pending or still open; reopened <= opened",
        unexpected_rows_query=(
            "SELECT s.day, s.issue_type FROM (SELECT * FROM {batch}) s "
            "WHERE s.closed + s.pending + s.still_open <> s.opened OR s.reopened > s.opened"
        ),
    ),
    asset_check(
        support_ticket_sla,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="the median time to close is at most the p90",
        column_A="p90_minutes_to_close",
        column_B="median_minutes_to_close",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    ),
    asset_check(
        support_ticket_sla,
        "expect_column_values_to_be_between",
        "warning",
        description="tickets are not closed before they were created",
        column="median_minutes_to_close",
        min_value=0,
    ),
)

# --- product prices ----------------------------------------------------------------------------

product_price_daily = sql_asset(
    "product_price_daily",
    sql=query("product_price_daily"),
    group=GROUP,
    key=("product_id", "day"),
    description=(
        "One row per product and UTC day, from its first price change to the latest change day "
        "over all products: closing price (carried forward), changes that day, day's min/max."
    ),
)

product_price_daily_checks = (
    asset_check(
        product_price_daily,
        "unexpected_rows_expectation",
        "blocking",
        description="min_price <= price <= max_price on every day",
        unexpected_rows_query=(
            "SELECT d.product_id, d.day FROM (SELECT * FROM {batch}) d "
            "WHERE NOT (d.min_price <= d.price AND d.price <= d.max_price)"
        ),
    ),
    asset_check(
        product_price_daily,
        "unexpected_rows_expectation",
        "blocking",
        description="every product has one row per day, without gaps, up to the same last day",
        unexpected_rows_query=(
            "SELECT d.product_id FROM (SELECT * FROM {batch}) d GROUP BY d.product_id "
            "HAVING max(d.day) - min(d.day) + 1 <> count(*) "
            "OR max(d.day) <> (SELECT max(e.day) FROM (SELECT * FROM {batch}) e)"
        ),
    ),
)

product_price_movers = sql_asset(
    "product_price_movers",
    sql=query("product_price_movers"),
    group=GROUP,
    key=("product_id",),
    description=(
        "Price moves over the last 30 days of the data (ending on the latest change day over all "
        "products): price at the start and end of the window, change, rank by absolute change %."
    ),
)

product_price_movers_checks = (
    asset_check(
        product_price_movers,
        "expect_column_values_to_be_unique",
        "blocking",
        description="each rank is given to one product",
        column="mover_rank",
    ),
    asset_check(
        product_price_movers,
        "unexpected_rows_expectation",
        "blocking",
        description="change_abs = price_end - price_start",
        unexpected_rows_query=(
            "SELECT m.product_id FROM (SELECT * FROM {batch}) m "
            "WHERE m.change_abs <> m.price_end - m.price_start"
        ),
    ),
)

# --- review moderation -------------------------------------------------------------------------

moderation_summary = sql_asset(
    "moderation_summary",
    sql=query("moderation_summary"),
    group=GROUP,
    key=("product_id",),
    description=(
        "Review moderation per product: reviews, average rating, approved/rejected/pending, "
        "approval rate, flags, and the age of the oldest pending review."
    ),
)

moderation_summary_checks = (
    asset_check(
        moderation_summary,
        "expect_column_values_to_be_between",
        "blocking",
        description="the approval rate is a share between 0 and 1",
        column="approval_rate",
        min_value=0,
        max_value=1,
    ),
    asset_check(
        moderation_summary,
        "unexpected_rows_expectation",
        "blocking",
        description=(
            "every review is approved, rejected or pending; a backlog only with pending ones"
        ),
        unexpected_rows_query=(
            "SELECT s.product_id FROM (SELECT * FROM {batch}) s "
            "WHERE s.approved + s.rejected + s.pending <> s.reviews "
            "OR (s.pending > 0) <> (s.oldest_pending_at IS NOT NULL)"
        ),
    ),
    asset_check(
        moderation_summary,
        "expect_column_values_to_be_between",
        "blocking",
        description="the average rating is on the 1-5 scale",
        column="avg_rating",
        min_value=1,
        max_value=5,
    ),
)

# --- search terms ------------------------------------------------------------------------------

search_terms = sql_asset(
    "search_terms",
    sql=query("search_terms"),
    group=GROUP,
    key=("query_norm",),
    description=(
        "Searches per normalised query text (lower-cased, whitespace collapsed): searches, "
        "distinct users, zero-result rate, the three most used filters."
    ),
)

search_terms_checks = (
    asset_check(
        search_terms,
        "expect_column_values_to_be_between",
        "blocking",
        description="the zero-result rate is a share between 0 and 1",
        column="zero_result_rate",
        min_value=0,
        max_value=1,
    ),
    asset_check(
        search_terms,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "blocking",
        description="a term has no more distinct users than searches",
        column_A="searches",
        column_B="distinct_users",
        or_equal=True,
    ),
)

CHECKS: tuple[AssetCheck, ...] = (
    *user_activity_daily_checks,
    *support_ticket_resolution_checks,
    *support_ticket_sla_checks,
    *product_price_daily_checks,
    *product_price_movers_checks,
    *moderation_summary_checks,
    *search_terms_checks,
)

ASSETS = (
    user_activity_daily,
    support_ticket_resolution,
    support_ticket_sla,
    product_price_daily,
    product_price_movers,
    moderation_summary,
    search_terms,
)
