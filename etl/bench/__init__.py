"""`python -m etl bench`: the load path measured against a plain COPY (see run.py)."""
