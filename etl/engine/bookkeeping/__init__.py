"""Bookkeeping in PostgreSQL: run records, watermarks, asset locks, refresh requests."""
