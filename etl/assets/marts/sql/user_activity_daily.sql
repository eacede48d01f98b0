-- dwh.user_activity_daily: one row per (user_id, day) on which the user did anything.
--
-- Grain and sources: every source is aggregated to (user_id, day) on its own first; the
-- aggregates are then joined one to one on that key, so no count is ever multiplied by a
-- join's fan-out (three sessions and four searches on a day stay 3 and 4, not 12 and 12).
-- * sessions: by the UTC day the session STARTED (a session crossing midnight counts, with
--   all its minutes, pages and actions, on its start day). Pages and actions are counted per
--   session before they meet the sessions.
-- * searches: by the UTC day of searched_at; anonymous searches (no user_id) are left out.
-- * tickets: by the UTC day of created_at.
-- Counts are 0 when a source has nothing that day; session_minutes and
-- median_session_minutes are NULL when no session of the day has an end_time (the median is
-- interpolated between the two middle sessions, like percentile_cont).
--
-- Incremental: the partitions parameter is the array of days being rebuilt (NULL on a full
-- build); every source is narrowed to those days so a rebuild reads only what it needs.
WITH sessions AS (
    SELECT
        session_id,
        user_id,
        (start_time AT TIME ZONE 'UTC')::date AS day,
        extract(epoch FROM end_time - start_time) / 60 AS minutes  -- NULL without an end_time
    FROM shop.user_sessions
    WHERE %(partitions)s::date[] IS NULL
       OR (start_time AT TIME ZONE 'UTC')::date = ANY(%(partitions)s::date[])
),

pages_per_session AS (
    SELECT session_id, count(*) AS pages
    FROM shop.session_pages
    WHERE session_id IN (SELECT session_id FROM sessions)
    GROUP BY session_id
),

actions_per_session AS (
    SELECT session_id, count(*) AS actions
    FROM shop.session_actions
    WHERE session_id IN (SELECT session_id FROM sessions)
    GROUP BY session_id
),

session_days AS (
    -- one row per session on each side of these joins: nothing fans out
    SELECT
        s.user_id,
        s.day,
        count(*) AS sessions,
        sum(s.minutes) AS session_minutes,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY s.minutes) AS median_session_minutes,
        coalesce(sum(p.pages), 0) AS pages,
        coalesce(sum(a.actions), 0) AS actions
    FROM sessions AS s
    LEFT JOIN pages_per_session AS p ON p.session_id = s.session_id
    LEFT JOIN actions_per_session AS a ON a.session_id = s.session_id
    GROUP BY s.user_id, s.day
),

search_days AS (
    SELECT
        user_id,
        (searched_at AT TIME ZONE 'UTC')::date AS day,
        count(*) AS searches,
        count(*) FILTER (WHERE results_count = 0) AS zero_result_searches
    FROM shop.search_queries
    WHERE user_id IS NOT NULL
      AND (%(partitions)s::date[] IS NULL
           OR (searched_at AT TIME ZONE 'UTC')::date = ANY(%(partitions)s::date[]))
    GROUP BY user_id, (searched_at AT TIME ZONE 'UTC')::date
),

ticket_days AS (
    SELECT
        user_id,
        (created_at AT TIME ZONE 'UTC')::date AS day,
        count(*) AS tickets_opened
    FROM shop.support_tickets
    WHERE %(partitions)s::date[] IS NULL
       OR (created_at AT TIME ZONE 'UTC')::date = ANY(%(partitions)s::date[])
    GROUP BY user_id, (created_at AT TIME ZONE 'UTC')::date
),

active_days AS (
    SELECT user_id, day FROM session_days
    UNION
    SELECT user_id, day FROM search_days
    UNION
    SELECT user_id, day FROM ticket_days
)

SELECT
    d.user_id::text AS user_id,
    d.day::date AS day,
    coalesce(s.sessions, 0)::int AS sessions,
    round(s.session_minutes::numeric, 2)::numeric(10, 2) AS session_minutes,
    round(s.median_session_minutes::numeric, 2)::numeric(10, 2) AS median_session_minutes,
    coalesce(s.pages, 0)::int AS pages,
    coalesce(s.actions, 0)::int AS actions,
    coalesce(q.searches, 0)::int AS searches,
    coalesce(q.zero_result_searches, 0)::int AS zero_result_searches,
    coalesce(t.tickets_opened, 0)::int AS tickets_opened
FROM active_days AS d
LEFT JOIN session_days AS s ON s.user_id = d.user_id AND s.day = d.day
LEFT JOIN search_days AS q ON q.user_id = d.user_id AND q.day = d.day
LEFT JOIN ticket_days AS t ON t.user_id = d.user_id AND t.day = d.day
