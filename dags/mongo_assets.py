"""The DAG file Airflow parses: the whole asset graph as one DAG (see dags/builder.py)."""

from dags.builder import build_dag
from etl.settings import get_settings

dag = build_dag(schedule=get_settings().airflow_schedule or None)
