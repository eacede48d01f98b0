"""Airflow DAGs. `mongo_assets.py` is the file the scheduler parses; the builder is importable."""
