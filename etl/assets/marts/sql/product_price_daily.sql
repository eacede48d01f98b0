-- dwh.product_price_daily: one row per (product_id, day), every day from the product's first
-- price change to the latest change day over ALL products (one shared end, so every product
-- is present up to the same day and the latest price can be read on one day for all).
--
-- Changes are ordered by changed_at (position breaks ties); days are UTC days.
-- * price: in force at the end of the day, i.e. the last change up to that day (carried
--   forward over days without changes).
-- * changes: how many changes happened that day.
-- * min_price / max_price: over the price in force at the start of the day (the previous
--   day's closing price; none on a product's first day) and every change of the day.
-- Changes are first reduced to one row per (product, change day), so the calendar join is one
-- to one; currency comes from shop.products (one row per product).
WITH changes AS (
    SELECT
        product_id,
        position,
        changed_at,
        price,
        (changed_at AT TIME ZONE 'UTC')::date AS day
    FROM shop.product_price_changes
),

change_days AS (
    SELECT
        product_id,
        day,
        count(*) AS changes,
        min(price) AS min_change,
        max(price) AS max_change,
        (array_agg(price ORDER BY changed_at DESC, position DESC))[1] AS closing_price
    FROM changes
    GROUP BY product_id, day
),

first_days AS (
    SELECT product_id, min(day) AS first_day
    FROM change_days
    GROUP BY product_id
),

calendar AS (
    SELECT f.product_id, g.day::date AS day
    FROM first_days AS f
    CROSS JOIN (SELECT max(day) AS last_day FROM change_days) AS l
    CROSS JOIN LATERAL generate_series(
        f.first_day::timestamp, l.last_day::timestamp, interval '1 day'
    ) AS g(day)
),

stretches AS (
    -- a stretch = a change day and the quiet days after it (a running count of change days)
    SELECT
        c.product_id,
        c.day,
        d.changes,
        d.min_change,
        d.max_change,
        d.closing_price,
        count(d.closing_price) OVER (PARTITION BY c.product_id ORDER BY c.day) AS stretch
    FROM calendar AS c
    LEFT JOIN change_days AS d ON d.product_id = c.product_id AND d.day = c.day
),

closing AS (
    SELECT
        product_id,
        day,
        changes,
        min_change,
        max_change,
        max(closing_price) OVER (PARTITION BY product_id, stretch) AS price
    FROM stretches
),

opening AS (
    SELECT
        *,
        lag(price) OVER (PARTITION BY product_id ORDER BY day) AS opening_price
    FROM closing
)

SELECT
    o.product_id::text AS product_id,
    o.day::date AS day,
    p.currency::char(3) AS currency,
    o.price::numeric(12, 2) AS price,
    coalesce(o.changes, 0)::int AS changes,
    -- least/greatest skip NULLs: no opening price on the first day, no change on quiet days
    least(o.opening_price, o.min_change)::numeric(12, 2) AS min_price,
    greatest(o.opening_price, o.max_change)::numeric(12, 2) AS max_price
FROM opening AS o
JOIN shop.products AS p ON p.product_id = o.product_id
