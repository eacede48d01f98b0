"""Aviasales air-fare searches: the logging proxy, the collector, the request-log format."""
