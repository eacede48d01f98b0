"""Hand-written expectations: what the models cannot say about the data."""

from __future__ import annotations

from typing import Any

import great_expectations.expectations as gxe

from etl.quality.rules import domain_expectation


@domain_expectation("shop.user_sessions", "blocking")
def session_ends_after_it_starts(common: dict[str, Any]) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="end_time",
        column_B="start_time",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        **common,
    )


@domain_expectation("shop.ticket_messages", "blocking")
def messages_after_ticket_creation(common: dict[str, Any]) -> gxe.Expectation:
    return gxe.UnexpectedRowsExpectation(
        description="no message is sent before its ticket was created",
        unexpected_rows_query=(
            "SELECT m.ticket_id, m.position FROM {batch} m "
            "JOIN shop.support_tickets t USING (ticket_id) WHERE m.sent_at < t.created_at"
        ),
        **common,
    )


@domain_expectation("shop.recommended_products", "warning")
def recommended_products_exist(common: dict[str, Any]) -> gxe.Expectation:
    return gxe.UnexpectedRowsExpectation(
        description="every recommended product exists in shop.products",
        unexpected_rows_query=(
            "SELECT r.user_id, r.product_id FROM {batch} r "
            "WHERE NOT EXISTS (SELECT 1 FROM shop.products p WHERE p.product_id = r.product_id)"
        ),
        **common,
    )


@domain_expectation("shop.moderation_queue", "warning")
def reviewed_products_exist(common: dict[str, Any]) -> gxe.Expectation:
    return gxe.UnexpectedRowsExpectation(
        description="every reviewed product exists in shop.products",
        unexpected_rows_query=(
            "SELECT r.review_id, r.product_id FROM {batch} r "
            "WHERE NOT EXISTS (SELECT 1 FROM shop.products p WHERE p.product_id = r.product_id)"
        ),
        **common,
    )


@domain_expectation("aviasales.tickets", "blocking")
def return_after_departure(common: dict[str, Any]) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="return_at",
        column_B="departure_at",
        ignore_row_if="either_value_is_missing",
        **common,
    )


@domain_expectation("aviasales.tickets", "warning")
def departure_after_search(common: dict[str, Any]) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="departure_at", column_B="found_at", **common
    )
