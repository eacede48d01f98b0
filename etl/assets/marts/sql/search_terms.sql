-- dwh.search_terms: one row per normalised query text (query_norm).
--
-- query_norm = the text lower-cased, every run of whitespace (spaces, tabs, newlines) made one
-- space, then trimmed: '  Red  Shoes' and 'red shoes' are one term.
-- Searches and filters are aggregated separately and joined one to one on query_norm:
-- * searches, distinct_users (non-null user ids), zero_result_rate = share of searches with
--   no result.
-- * top_filters: the (up to) 3 filter names used by most of the term's searches (a filter
--   counts once per search, shop.search_filters being keyed by (query_id, name)), most used
--   first, ties by name, joined with ', '; NULL when no search of the term used a filter.
WITH searches AS (
    SELECT
        query_id,
        user_id,
        results_count,
        btrim(regexp_replace(lower(query_text), '\s+', ' ', 'g')) AS query_norm
    FROM shop.search_queries
),

terms AS (
    SELECT
        query_norm,
        count(*) AS searches,
        count(DISTINCT user_id) AS distinct_users,
        avg(CASE WHEN results_count = 0 THEN 1 ELSE 0 END) AS zero_result_rate
    FROM searches
    GROUP BY query_norm
),

filter_uses AS (
    SELECT s.query_norm, f.name, count(*) AS uses
    FROM shop.search_filters AS f
    JOIN searches AS s ON s.query_id = f.query_id
    GROUP BY s.query_norm, f.name
),

ranked_filters AS (
    SELECT
        query_norm,
        name,
        row_number() OVER (PARTITION BY query_norm ORDER BY uses DESC, name) AS filter_rank
    FROM filter_uses
),

top_filters AS (
    SELECT query_norm, string_agg(name, ', ' ORDER BY filter_rank) AS top_filters
    FROM ranked_filters
    WHERE filter_rank <= 3
    GROUP BY query_norm
)

SELECT
    t.query_norm::text AS query_norm,
    t.searches::int AS searches,
    t.distinct_users::int AS distinct_users,
    round(t.zero_result_rate, 4)::numeric(5, 4) AS zero_result_rate,
    f.top_filters::text AS top_filters
FROM terms AS t
LEFT JOIN top_filters AS f ON f.query_norm = t.query_norm
