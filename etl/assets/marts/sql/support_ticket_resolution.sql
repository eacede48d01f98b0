-- dwh.support_ticket_resolution: one row per support ticket (its grain is the ticket).
--
-- Each ticket's status history is first reduced to one row per ticket (history_per_ticket),
-- then joined one to one to its ticket.
-- * day = UTC day the ticket was created; status = its CURRENT status.
-- * minutes_to_close, for tickets currently closed only: from created_at to the LAST change to
--   'closed' in the history (the highest position, positions being the history's order); a
--   closed ticket without such a change falls back to its updated_at. NULL otherwise.
-- * reopened: the history has a 'closed' followed, at a later position, by any other status,
--   whatever the current status (a reopened ticket may be closed again).
-- Percentiles of time to close over any set of tickets (an issue type, a month) are computed
-- from this table, never averaged from daily figures: support_ticket_sla reads it per day.
WITH history_per_ticket AS (
    SELECT
        ticket_id,
        (array_agg(changed_at ORDER BY position DESC)
            FILTER (WHERE status = 'closed'))[1] AS last_closed_at,
        min(position) FILTER (WHERE status = 'closed') AS first_closed_position,
        max(position) FILTER (WHERE status <> 'closed') AS last_other_position
    FROM shop.ticket_status_changes
    GROUP BY ticket_id
)

SELECT
    t.ticket_id::text AS ticket_id,
    t.issue_type::text AS issue_type,
    t.status::text AS status,
    (t.created_at AT TIME ZONE 'UTC')::date AS day,
    CASE
        WHEN t.status = 'closed'
            THEN extract(epoch FROM coalesce(h.last_closed_at, t.updated_at) - t.created_at) / 60
    END::double precision AS minutes_to_close,
    coalesce(h.first_closed_position < h.last_other_position, false) AS reopened
FROM shop.support_tickets AS t
LEFT JOIN history_per_ticket AS h ON h.ticket_id = t.ticket_id
