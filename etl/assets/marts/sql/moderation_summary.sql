-- dwh.moderation_summary: one row per product_id found in shop.moderation_queue.
--
-- Reviews and their flags are aggregated to the product separately and then joined one to
-- one, so a review with three flags still counts as one review.
-- * approval_rate = approved / (approved + rejected): NULL while nothing is decided.
-- * flags = review_flags rows of the product's reviews; flags_per_review = flags / reviews.
-- * oldest_pending_at = submitted_at of the oldest pending review; pending_backlog_hours =
--   hours from it to now() (the build's transaction time, so this column ages between
--   builds); both NULL without a pending review.
WITH reviews AS (
    SELECT
        product_id,
        count(*) AS reviews,
        avg(rating) AS avg_rating,
        count(*) FILTER (WHERE moderation_status = 'approved') AS approved,
        count(*) FILTER (WHERE moderation_status = 'rejected') AS rejected,
        count(*) FILTER (WHERE moderation_status = 'pending') AS pending,
        min(submitted_at) FILTER (WHERE moderation_status = 'pending') AS oldest_pending_at
    FROM shop.moderation_queue
    GROUP BY product_id
),

flags AS (
    -- a flag belongs to exactly one review (review_id is the queue's primary key)
    SELECT m.product_id, count(*) AS flags
    FROM shop.review_flags AS f
    JOIN shop.moderation_queue AS m ON m.review_id = f.review_id
    GROUP BY m.product_id
)

SELECT
    r.product_id::text AS product_id,
    r.reviews::int AS reviews,
    round(r.avg_rating, 2)::numeric(3, 2) AS avg_rating,
    r.approved::int AS approved,
    r.rejected::int AS rejected,
    r.pending::int AS pending,
    round(r.approved::numeric / nullif(r.approved + r.rejected, 0), 4)::numeric(5, 4)
        AS approval_rate,
    coalesce(f.flags, 0)::int AS flags,
    round(coalesce(f.flags, 0)::numeric / r.reviews, 3)::numeric(6, 3) AS flags_per_review,
    r.oldest_pending_at::timestamptz AS oldest_pending_at,
    round(extract(epoch FROM now() - r.oldest_pending_at)::numeric / 3600, 1)::numeric(10, 1)
        AS pending_backlog_hours
FROM reviews AS r
LEFT JOIN flags AS f ON f.product_id = r.product_id
