"""Aviasales marts (being written)."""
