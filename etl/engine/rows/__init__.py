"""Rows: a document's view for transforms (`Doc`), table layouts and binary COPY encoding."""
