-- dwh.product_price_movers: one row per product with price changes, ranked by how much its
-- price moved over the last 30 days of the data.
--
-- Window: [latest change day over all products - 29, latest change day] (UTC days), so the
-- mart does not depend on when it is built. Computed from the changes themselves (ordered by
-- changed_at, position breaking ties), not from dwh.product_price_daily:
-- * price_start: the price in force when the window opens (the last change before its first
--   day), or the product's very first price when its history starts inside the window.
-- * price_end: the price in force at the end of the window (its last change overall).
-- * change_abs = price_end - price_start; change_pct = 100 * change_abs / price_start, rounded
--   to 2 decimals (NULL if price_start is 0). Both signed: a drop is negative.
-- * mover_rank: 1 = the largest absolute change_pct as published (rounded); ties, and NULL
--   percentages last, broken by product_id. Every product is ranked (no cut-off): readers
--   take the top N they need.
WITH changes AS (
    SELECT
        product_id,
        position,
        changed_at,
        price,
        (changed_at AT TIME ZONE 'UTC')::date AS day
    FROM shop.product_price_changes
),

time_window AS (
    SELECT max(day) - 29 AS first_day, max(day) AS last_day
    FROM changes
),

before_window AS (
    SELECT DISTINCT ON (c.product_id) c.product_id, c.price
    FROM changes AS c
    CROSS JOIN time_window AS w
    WHERE c.day < w.first_day
    ORDER BY c.product_id, c.changed_at DESC, c.position DESC
),

first_price AS (
    SELECT DISTINCT ON (product_id) product_id, price
    FROM changes
    ORDER BY product_id, changed_at, position
),

last_price AS (
    SELECT DISTINCT ON (product_id) product_id, price
    FROM changes
    ORDER BY product_id, changed_at DESC, position DESC
),

moves AS (
    SELECT
        f.product_id,
        coalesce(b.price, f.price) AS price_start,
        l.price AS price_end
    FROM first_price AS f
    JOIN last_price AS l ON l.product_id = f.product_id
    LEFT JOIN before_window AS b ON b.product_id = f.product_id
),

measured AS (
    SELECT
        product_id,
        price_start,
        price_end,
        price_end - price_start AS change_abs,
        round(100 * (price_end - price_start) / nullif(price_start, 0), 2) AS change_pct
    FROM moves
)

SELECT
    m.product_id::text AS product_id,
    p.currency::char(3) AS currency,
    m.price_start::numeric(12, 2) AS price_start,
    m.price_end::numeric(12, 2) AS price_end,
    m.change_abs::numeric(12, 2) AS change_abs,
    m.change_pct::numeric(8, 2) AS change_pct,
    row_number() OVER (ORDER BY abs(m.change_pct) DESC NULLS LAST, m.product_id)::int
        AS mover_rank
FROM measured AS m
JOIN shop.products AS p ON p.product_id = m.product_id
