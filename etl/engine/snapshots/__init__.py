"""Partitioned snapshots: `_id` ranges on the server, the plan, range loads, workers and
clashes between ranges."""
