"""Hand-written expectations: what the models cannot say about the data.

Severity policy: a rule that can only fail when our own transform or the source is wrong blocks
(the checkpoint task fails, downstream marts wait). A cross-collection reference warns: documents
arrive out of order and the referenced asset may simply not have run yet in this DAG run, so a
missing product is worth a report, not a stopped warehouse.
"""

from __future__ import annotations

from etl.quality.rules import domain_expectation

# GX substitutes `{batch}` with "(SELECT ...) AS subselect": to alias it, wrap it in a subquery.

domain_expectation(
    "shop.user_sessions",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "blocking",
    description="a session ends at or after it starts",
    column_A="end_time",
    column_B="start_time",
    or_equal=True,
    ignore_row_if="either_value_is_missing",
)

domain_expectation(
    "shop.ticket_messages",
    "unexpected_rows_expectation",
    "blocking",
    description="no message is sent before its ticket was created",
    unexpected_rows_query=(
        "SELECT m.ticket_id, m.position, m.sent_at, t.created_at FROM (SELECT * FROM {batch}) m "
        "JOIN shop.support_tickets t USING (ticket_id) WHERE m.sent_at < t.created_at"
    ),
)

REFERENCES = (("shop.recommended_products", "user_id"), ("shop.moderation_queue", "review_id"))
for _table, _key in REFERENCES:
    domain_expectation(
        _table,
        "unexpected_rows_expectation",
        "warning",
        description="every referenced product exists in shop.products",
        unexpected_rows_query=(
            f"SELECT r.{_key}, r.product_id FROM (SELECT * FROM {{batch}}) r WHERE NOT EXISTS "
            "(SELECT 1 FROM shop.products p WHERE p.product_id = r.product_id)"
        ),
    )

domain_expectation(
    "aviasales.tickets",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "blocking",
    description="a return flight leaves after the outbound one",
    column_A="return_at",
    column_B="departure_at",
    ignore_row_if="either_value_is_missing",
)

domain_expectation(
    "aviasales.tickets",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "blocking",
    description="an offer departs after the search that found it",
    column_A="departure_at",
    column_B="found_at",
    ignore_row_if="either_value_is_missing",
)

domain_expectation(
    "aviasales.request_logs",
    "unexpected_rows_expectation",
    "blocking",
    description="a search counts as successful only with a 200 answer",
    unexpected_rows_query=(
        "SELECT r.request_id, r.status_code FROM (SELECT * FROM {batch}) r"
        " WHERE r.success AND r.status_code IS DISTINCT FROM 200"
    ),
)

domain_expectation(
    "aviasales.request_logs",
    "unexpected_rows_expectation",
    "warning",
    description="every offer of a search was loaded (the others are in etl.rejects)",
    unexpected_rows_query=(
        "SELECT r.request_id, r.n_offers, count(t.position) AS loaded"
        " FROM (SELECT * FROM {batch}) r LEFT JOIN aviasales.tickets t USING (request_id)"
        " GROUP BY r.request_id, r.n_offers HAVING r.n_offers <> count(t.position)"
    ),
)
