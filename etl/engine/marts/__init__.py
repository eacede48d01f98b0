"""Marts: building a SQL asset's table (full or by changed partitions) and swapping it in."""
