-- The days of dwh.user_activity_daily whose inputs were (re)loaded since the last build.
-- Child rows (pages, actions) are rewritten with their session, so the parents' loaded_at
-- covers them. Each day is the same UTC day expression the mart groups by.
SELECT (start_time AT TIME ZONE 'UTC')::date AS day
FROM shop.user_sessions
WHERE loaded_at >= %(since)s
UNION
SELECT (searched_at AT TIME ZONE 'UTC')::date AS day
FROM shop.search_queries
WHERE loaded_at >= %(since)s
UNION
SELECT (created_at AT TIME ZONE 'UTC')::date AS day
FROM shop.support_tickets
WHERE loaded_at >= %(since)s
