-- dwh.support_ticket_sla: one row per (day, issue_type), day = UTC day the tickets were created.
--
-- Built on dwh.support_ticket_resolution (one row per ticket, where opened, status, minutes to
-- close and reopened are defined), so the counts are counts of tickets.
-- * opened = tickets created; closed / pending / still_open = those tickets by CURRENT status.
-- * median and p90 minutes to close of that day's closed tickets, interpolated between tickets
--   (percentile_cont); NULL when none is closed. A percentile over several days must be taken
--   from support_ticket_resolution, not averaged from these rows.
SELECT
    day::date AS day,
    issue_type::text AS issue_type,
    count(*)::int AS opened,
    count(*) FILTER (WHERE status = 'closed')::int AS closed,
    count(*) FILTER (WHERE status = 'pending')::int AS pending,
    count(*) FILTER (WHERE status = 'open')::int AS still_open,
    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes_to_close))::numeric, 1)
        ::numeric(10, 1) AS median_minutes_to_close,
    round((percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes_to_close))::numeric, 1)
        ::numeric(10, 1) AS p90_minutes_to_close,
    count(*) FILTER (WHERE reopened)::int AS reopened
FROM dwh.support_ticket_resolution
GROUP BY day, issue_type
