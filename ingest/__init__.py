"""Ingestion that belongs to the product: what fills MongoDB from outside APIs.

`ingest.aviasales`: the logging proxy in front of the Aviasales Data API, the collector that
searches through it, and the request-log document format the `request_logs` asset reads. It
uses only the product's settings and connections (etl.settings, etl.services); the warehouse's
`collect_fares` asset calls it. It never imports `generator` (the imitated outside world).
"""
