-- dwh.weekday_prices: does the weekday matter, of the departure or of the search?
--
-- Grain: one row per (origin, destination, currency, weekday_kind, weekday), weekday ISO
-- (1 = Monday ... 7 = Sunday):
--   weekday_kind 'departure'  the weekday of the offer's local departure day;
--   weekday_kind 'search'     the weekday of the search that found it (UTC day of found_at).
-- avg_price and median_price are plain statistics of the offers of that weekday.
--
-- price_index:
--   'departure'  the weekday's average price / the route's average price (both in the
--                route's currency): 1.08 = departing that day costs 8 %% more than average;
--   'search'     the average over the offers of price / the average price of the same flight
--                (route, currency, airline, flight_number, departure_date, return_at) over all
--                its observations. Comparing each offer with its own flight cancels the season,
--                the departure weekday and the airline, which a plain average by search weekday
--                would mix in: 0.98 = searching that day finds a flight 2 %% below its average.
WITH offers AS (
    SELECT
        origin,
        destination,
        currency,
        price,
        extract(isodow FROM departure_date)::int AS departure_weekday,
        extract(isodow FROM (found_at AT TIME ZONE 'UTC')::date)::int AS search_weekday,
        price / avg(price) OVER (
            PARTITION BY
                origin, destination, currency, airline, flight_number, departure_date, return_at
        ) AS relative_to_flight
    FROM aviasales.tickets
),

route_level AS (
    SELECT origin, destination, currency, avg(price) AS avg_price
    FROM offers
    GROUP BY origin, destination, currency
),

by_departure AS (
    SELECT
        origin,
        destination,
        currency,
        departure_weekday AS weekday,
        count(*) AS offers,
        avg(price) AS avg_price,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS median_price
    FROM offers
    GROUP BY origin, destination, currency, departure_weekday
),

by_search AS (
    SELECT
        origin,
        destination,
        currency,
        search_weekday AS weekday,
        count(*) AS offers,
        avg(price) AS avg_price,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS median_price,
        avg(relative_to_flight) AS price_index
    FROM offers
    GROUP BY origin, destination, currency, search_weekday
),

weekdays AS (
    SELECT
        d.origin,
        d.destination,
        d.currency,
        'departure' AS weekday_kind,
        d.weekday,
        d.offers,
        d.avg_price,
        d.median_price,
        d.avg_price / r.avg_price AS price_index
    FROM by_departure AS d
    JOIN route_level AS r
        ON r.origin = d.origin AND r.destination = d.destination AND r.currency = d.currency
    UNION ALL
    SELECT
        origin,
        destination,
        currency,
        'search' AS weekday_kind,
        weekday,
        offers,
        avg_price,
        median_price,
        price_index
    FROM by_search
)

SELECT
    origin::text AS origin,
    destination::text AS destination,
    currency::text AS currency,
    weekday_kind::text AS weekday_kind,
    weekday::int AS weekday,
    ((ARRAY['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'])[weekday])::text AS weekday_name,
    offers::int AS offers,
    round(avg_price, 2)::numeric(12, 2) AS avg_price,
    round(median_price::numeric, 2)::numeric(12, 2) AS median_price,
    round(price_index, 4)::numeric(6, 4) AS price_index
FROM weekdays
