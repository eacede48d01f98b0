-- dwh.route_avg_price: the price level of each route over all the searches collected.
--
-- Grain: one row per (origin, destination, currency); a route is (origin, destination), and
-- prices in different currencies are never mixed.
--
-- Method: two aggregates of the offers (aviasales.tickets), each at its own grain, joined
-- one-to-one on the route:
--   route_stats  searches = distinct requests that found offers on the route, offers, mean,
--                median (percentile_cont 0.5) and minimum price;
--   cheapest     the airline with the lowest median price on the route (ties: the first
--                airline code), from the per-airline medians.
WITH route_stats AS (
    SELECT
        origin,
        destination,
        currency,
        count(DISTINCT request_id) AS searches,
        count(*) AS offers,
        avg(price) AS avg_price,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS median_price,
        min(price) AS min_price
    FROM aviasales.tickets
    GROUP BY origin, destination, currency
),

airline_medians AS (
    SELECT
        origin,
        destination,
        currency,
        airline,
        round((percentile_cont(0.5) WITHIN GROUP (ORDER BY price))::numeric, 2) AS median_price
    FROM aviasales.tickets
    GROUP BY origin, destination, currency, airline
),

cheapest AS (
    SELECT DISTINCT ON (origin, destination, currency)
        origin,
        destination,
        currency,
        airline,
        median_price
    FROM airline_medians
    ORDER BY origin, destination, currency, median_price, airline
)

SELECT
    r.origin::text AS origin,
    r.destination::text AS destination,
    r.currency::text AS currency,
    r.searches::int AS searches,
    r.offers::int AS offers,
    round(r.avg_price, 2)::numeric(12, 2) AS avg_price,
    round(r.median_price::numeric, 2)::numeric(12, 2) AS median_price,
    r.min_price::numeric(12, 2) AS min_price,
    c.airline::text AS cheapest_airline,
    c.median_price::numeric(12, 2) AS cheapest_airline_median
FROM route_stats AS r
JOIN cheapest AS c
    ON c.origin = r.origin AND c.destination = r.destination AND c.currency = r.currency
