"""Shared values, the engine's bottom layer: BSON type names and order, document identity and
hashes, coercion, column guards, results, watermarks, `_id` ranges. Imports nothing of the
engine."""
