"""Loading a table asset: reading MongoDB, the loader (validate, COPY, merge, rejects), the
three-stage batch pipeline, the field inventory and the incremental load."""
