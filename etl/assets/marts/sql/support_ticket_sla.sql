-- dwh.support_ticket_sla: one row per (day, issue_type), day = UTC day the tickets were created.
--
-- Each ticket's status history is first reduced to one row per ticket (history_per_ticket),
-- then joined one to one to its ticket, then grouped: the counts are counts of tickets.
-- * opened = tickets created; closed / pending / still_open = those tickets by CURRENT status.
-- * minutes to close, for tickets currently closed only: from created_at to the LAST change to
--   'closed' in the history (the highest position, positions being the history's order); a
--   closed ticket without such a change falls back to its updated_at.
--   Median and p90 interpolate between tickets (percentile_cont); NULL when none is closed.
-- * reopened = tickets whose history has a 'closed' followed, at a later position, by any
--   other status, whatever their current status (a reopened ticket may be closed again).
WITH history_per_ticket AS (
    SELECT
        ticket_id,
        (array_agg(changed_at ORDER BY position DESC)
            FILTER (WHERE status = 'closed'))[1] AS last_closed_at,
        min(position) FILTER (WHERE status = 'closed') AS first_closed_position,
        max(position) FILTER (WHERE status <> 'closed') AS last_other_position
    FROM shop.ticket_status_changes
    GROUP BY ticket_id
),

tickets AS (
    SELECT
        t.ticket_id,
        t.issue_type,
        t.status,
        (t.created_at AT TIME ZONE 'UTC')::date AS day,
        CASE
            WHEN t.status = 'closed'
                THEN extract(epoch FROM coalesce(h.last_closed_at, t.updated_at) - t.created_at)
                    / 60
        END AS minutes_to_close,
        coalesce(h.first_closed_position < h.last_other_position, false) AS reopened
    FROM shop.support_tickets AS t
    LEFT JOIN history_per_ticket AS h ON h.ticket_id = t.ticket_id
)

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
FROM tickets
GROUP BY day, issue_type
