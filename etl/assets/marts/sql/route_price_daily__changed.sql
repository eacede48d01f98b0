-- The search days of dwh.route_price_daily to rebuild: those of request logs (re)loaded since
-- the previous build (a re-loaded log replaces its offers, so its whole search day is redone).
SELECT DISTINCT search_date
FROM aviasales.request_logs
WHERE loaded_at >= %(since)s
