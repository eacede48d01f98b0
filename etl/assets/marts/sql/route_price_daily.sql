-- dwh.route_price_daily: what the fares of one departure day looked like on one search day.
--
-- Grain: one row per (origin, destination, currency, departure_date, search_date).
--   departure_date  the offer's local departure day (aviasales.tickets.departure_date)
--   search_date     the day the search was made, from the offer's own request log
--                   (a simulated earlier day when the history was backfilled)
-- Prices in different currencies are never mixed: currency is part of the grain.
--
-- Method: every offer looks up the search_date of the one request that found it (a
-- many-to-one lookup by request_id: two searches of the same route on the same day add their
-- offers, never multiply them), then the offers of each group are aggregated:
-- count, minimum, median (percentile_cont 0.5), mean, and the share of direct offers
-- (transfers = 0).
--
-- Incremental by search_date: the partitions parameter is the array of search days being
-- rebuilt (NULL on a full build); the changed query (route_price_daily__changed.sql) lists the
-- search days of request logs loaded since the previous build.
WITH offers AS (
    SELECT
        t.origin,
        t.destination,
        t.currency,
        t.departure_date,
        l.search_date,
        t.price,
        t.transfers
    FROM aviasales.tickets AS t
    JOIN aviasales.request_logs AS l ON l.request_id = t.request_id
    WHERE %(partitions)s::date[] IS NULL OR l.search_date = ANY(%(partitions)s::date[])
)
SELECT
    origin::text AS origin,
    destination::text AS destination,
    currency::text AS currency,
    departure_date::date AS departure_date,
    search_date::date AS search_date,
    count(*)::int AS offers,
    min(price)::numeric(12, 2) AS min_price,
    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY price))::numeric, 2)::numeric(12, 2)
        AS median_price,
    round(avg(price), 2)::numeric(12, 2) AS avg_price,
    round(avg((transfers = 0)::int), 4)::numeric(5, 4) AS direct_share
FROM offers
GROUP BY origin, destination, currency, departure_date, search_date
