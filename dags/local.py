"""Run the Airflow DAG in-process (`dag.test()`), on a SQLite metadata DB under LOCAL_DIR/airflow.

This is how `make demo` exercises the real DAG without an Airflow deployment. The same metadata
DB can be browsed afterwards with `AIRFLOW_HOME=.local/airflow airflow standalone` (see README).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from dags.task_logs import IN_PROCESS
from etl.errors import UserFacingError
from etl.migrations import PROJECT_ROOT
from etl.settings import get_settings


@dataclass
class DagRunReport:
    state: str
    tasks: dict[str, str]
    seconds: float
    noted: dict[str, str] = field(default_factory=dict)
    """Task instances with a note: the checks that warned (dags/plugins/check_notes.py)."""


def airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # a scheduler started on this home (airflow standalone) preloads Great Expectations
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "dags" / "plugins"),
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def prepare_airflow() -> Path:
    """Point Airflow at LOCAL_DIR/airflow and migrate its metadata DB once."""
    home = (get_settings().local_dir / "airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(home))
    if not (home / "airflow.db").exists():
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise UserFacingError(f"airflow db migrate failed: {' '.join(tail)}")
    return home


def ui_env() -> dict[str, str]:
    """The environment of `python -m etl ui`: the demo's Airflow home, the virtualenv's bin on
    PATH (Airflow starts its own subprocesses by name), no examples, no login (local only)."""
    prepare_airflow()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    return env


def run_dag(selection: str = "*", full_refresh: bool = False) -> DagRunReport:
    """One run of the project's DAG, in this process; returns the run's and each task's state."""
    import time

    prepare_airflow()
    from dags.mongo_assets import dag

    started = time.monotonic()
    # dag.test() warns "No tasks to run. unrunnable tasks: ..." whenever a loop finds nothing
    # ready yet (mapped range tasks wait for their plan's result): noise, not a problem
    logging.getLogger("airflow.sdk.definitions.dag").setLevel(logging.ERROR)
    # dag.test() runs Airflow's execution API through Starlette's test client, which warns
    # about its own httpx dependency: not something a user of the demo can act on
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    os.environ[IN_PROCESS] = str(Path(os.environ["AIRFLOW_HOME"]) / "logs")
    try:
        run = dag.test(run_conf={"selection": selection, "full_refresh": full_refresh})
    finally:
        os.environ.pop(IN_PROCESS, None)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id)
        tasks = {  # a mapped task's instances as load_x[0], load_x[1], ...
            ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": str(ti.state)
            for ti in instances
        }
        noted = {ti.task_id: ti.note for ti in instances if ti.note}
    return DagRunReport(str(run.state), tasks, time.monotonic() - started, noted)
