-- dwh.booking_window: how far ahead to buy, per route, currency and days-before-departure bucket.
--
-- Grain: one row per (origin, destination, currency, bucket) with offers; bucket_start is its
-- key. days_before = departure_date (local day) - the UTC day of found_at (the search);
-- buckets: 1-3, 4-7, 8-14, 15-21, 22-30, 31-45, 46-60, 61-90, 91-120, 121+ (an offer found on
-- or after its departure day, days_before < 1, counts in 1-3).
--
-- avg_price and median_price are plain statistics of the bucket's offers. They are confounded
-- by seasonality: the offers found 50 days ahead in November depart around New Year, the
-- dearest season, so a plain average can make a good window look bad. The cheapest window is
-- therefore found with price_index, which compares the SAME FLIGHT at different distances
-- from departure ("flight-following chain"):
--   1. a flight is (route, currency, airline, flight_number, departure_date, return_at); per
--      flight and search day, its price is the average log price of the offers (ln p);
--   2. a step is ln p(b) - ln p(b+1) for every pair of a flight's observations made exactly
--      one day apart (days_before b and b + 1): how much dearer that flight got in one day;
--   3. per route and b, G(b) = the average step over all flights (season, airline, departure
--      weekday and the flight's own level cancel out: each step compares a flight to itself);
--   4. L(b) = G(b) + G(b+1) + ... + G(bmax), bmax the largest b with a step: the log price at
--      b relative to the far end of the chain (days_before bmax + 1, where L = 0); a day
--      without any step inside the range adds 0;
--   5. per bucket, the average of exp(L(b)) over the bucket's b that have a step; divided by
--      the average of that over the route's buckets, so the route's indexes average 1.
-- price_index 0.90 = 10 %% below that flight's average level; NULL for a bucket without any
-- step. is_cheapest marks the bucket with the lowest price_index of the route (ties: the
-- earlier bucket); a route without any step has no cheapest bucket.
WITH buckets (bucket, bucket_start, bucket_end) AS (
    VALUES
        ('1-3', 1, 3), ('4-7', 4, 7), ('8-14', 8, 14), ('15-21', 15, 21), ('22-30', 22, 30),
        ('31-45', 31, 45), ('46-60', 46, 60), ('61-90', 61, 90), ('91-120', 91, 120),
        ('121+', 121, NULL)
),

offers AS (
    SELECT
        origin,
        destination,
        currency,
        airline,
        flight_number,
        departure_date,
        return_at,
        price,
        days_before,
        -- the buckets partition [1, infinity): the last one starting at or before the day
        (SELECT max(bucket_start) FROM buckets WHERE bucket_start <= greatest(days_before, 1))
            AS bucket_start
    FROM aviasales.tickets
    CROSS JOIN LATERAL (
        SELECT departure_date - (found_at AT TIME ZONE 'UTC')::date AS days_before
    ) AS d
),

bucket_stats AS (
    SELECT
        origin,
        destination,
        currency,
        bucket_start,
        count(*) AS offers,
        avg(price) AS avg_price,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS median_price
    FROM offers
    GROUP BY origin, destination, currency, bucket_start
),

-- 1. one point per flight and search day (= days_before, the departure day being fixed)
observations AS (
    SELECT
        origin,
        destination,
        currency,
        airline,
        flight_number,
        departure_date,
        return_at,
        days_before,
        bucket_start,
        avg(ln(price::float8)) AS ln_price
    FROM offers
    GROUP BY
        origin, destination, currency, airline, flight_number, departure_date, return_at,
        days_before, bucket_start
),

-- 2. the flight's next observation (one day further from departure) and the step to it
steps AS (
    SELECT
        origin,
        destination,
        currency,
        days_before AS b,
        bucket_start,
        lead(days_before) OVER flight AS next_b,
        ln_price - lead(ln_price) OVER flight AS step
    FROM observations
    WINDOW flight AS (
        PARTITION BY
            origin, destination, currency, airline, flight_number, departure_date, return_at
        ORDER BY days_before
    )
),

-- 3. G(b): the average one-day step of the route's flights at b days before departure
daily_change AS (
    SELECT origin, destination, currency, b, bucket_start, avg(step) AS g
    FROM steps
    WHERE next_b = b + 1
    GROUP BY origin, destination, currency, b, bucket_start
),

-- 4. L(b) = sum of G(j) for j >= b (a running sum from the far end)
chain AS (
    SELECT
        origin,
        destination,
        currency,
        bucket_start,
        sum(g) OVER (PARTITION BY origin, destination, currency ORDER BY b DESC) AS l
    FROM daily_change
),

-- 5. per bucket, the average relative price exp(L) of its days ...
bucket_level AS (
    SELECT origin, destination, currency, bucket_start, avg(exp(l)) AS level
    FROM chain
    GROUP BY origin, destination, currency, bucket_start
),

-- ... divided by the route's average over its buckets
bucket_index AS (
    SELECT
        origin,
        destination,
        currency,
        bucket_start,
        round(
            (level / avg(level) OVER (PARTITION BY origin, destination, currency))::numeric, 4
        ) AS price_index
    FROM bucket_level
),

-- one row per bucket with offers: its statistics and (if it has steps) its index
indexed AS (
    SELECT
        s.origin,
        s.destination,
        s.currency,
        bk.bucket,
        s.bucket_start,
        bk.bucket_end,
        s.offers,
        s.avg_price,
        s.median_price,
        i.price_index
    FROM bucket_stats AS s
    JOIN buckets AS bk ON bk.bucket_start = s.bucket_start
    LEFT JOIN bucket_index AS i
        ON i.origin = s.origin
        AND i.destination = s.destination
        AND i.currency = s.currency
        AND i.bucket_start = s.bucket_start
)

SELECT
    origin::text AS origin,
    destination::text AS destination,
    currency::text AS currency,
    bucket::text AS bucket,
    bucket_start::int AS bucket_start,
    bucket_end::int AS bucket_end,
    offers::int AS offers,
    round(avg_price, 2)::numeric(12, 2) AS avg_price,
    round(median_price::numeric, 2)::numeric(12, 2) AS median_price,
    price_index::numeric(6, 4) AS price_index,
    (
        price_index IS NOT NULL
        AND row_number() OVER (
            PARTITION BY origin, destination, currency
            ORDER BY price_index NULLS LAST, bucket_start
        ) = 1
    )::boolean AS is_cheapest
FROM indexed
