"""Aviasales air-fare searches: upstream simulator, logging proxy and collector."""
