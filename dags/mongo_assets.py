"""The DAG file Airflow parses: the project's definitions as one DAG (see dags/builder.py)."""

from dags.builder import build_dag
from etl.definitions import defs
from etl.settings import get_settings

settings = get_settings()
dag = build_dag(
    defs,
    schedule=settings.airflow_schedule or None,
    max_active_tasks=settings.airflow_max_active_tasks,
    range_workers=settings.workers,
)
