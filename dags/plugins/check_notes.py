"""An Airflow plugin that puts a check's warnings on its task instance as a note.

Airflow 3 has no "warning" task state: a check task whose expectations only warned ends green,
like a clean one. The grid marks a task instance that has a note (a corner in another shade, also
on its task group's row), so a note is the one at-a-glance sign the UI offers; it also reads well
(the warnings, listed, in the task instance's Note panel). A task cannot write its own note (the
Task SDK has no call for it and tasks do not touch the metadata database), so the check returns
it (`note` in its return value, dags/tasks.py) and this listener, which runs where DAG-run
states change (the scheduler; `dag.test()` in `make demo`), copies it onto the task instance
when the run ends. Enabled by `AIRFLOW__CORE__PLUGINS_FOLDER` (dags/local.py, docker-compose.yml).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)
CHECK_PREFIX = "check_"


def copy_check_notes(dag_run: Any) -> int:
    """Set the note of every check task instance of `dag_run` that returned one (and has none a
    person wrote); returns how many were set."""
    from airflow import settings
    from airflow.models.xcom import XComModel
    from sqlalchemy.orm import Session

    # the scheduler's session holds the run; dag.test() hands update_state a detached run and
    # commits its thread's scoped session right after, so the notes go there (left open)
    session = Session.object_session(dag_run)
    if session is None and settings.Session is not None:
        session = settings.Session()
    if session is None:
        return 0
    checks = {
        ti.task_id: ti for ti in dag_run.get_task_instances(session=session)
        if ti.task_id.startswith(CHECK_PREFIX) and ti.state == "success" and not ti.note
    }  # fmt: skip
    if not checks:
        return 0
    returned: list[Any] = list(session.scalars(  # one query for every check of the run
        XComModel.get_many(
            run_id=dag_run.run_id, key="return_value", dag_ids=dag_run.dag_id,
            task_ids=list(checks),
        )
    ))  # fmt: skip
    written = 0
    for stored in returned:
        value = XComModel.deserialize_value(stored)
        note = value.get("note") if isinstance(value, dict) else None
        ti = checks.get(stored.task_id)
        if ti is not None and isinstance(note, str) and note:
            ti.note = note
            written += 1
    return written


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _annotate(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _annotate(dag_run)


def _annotate(dag_run: Any) -> None:
    try:
        copy_check_notes(dag_run)
    except Exception as exc:  # a note is a courtesy: it never fails a DAG run's bookkeeping
        log.warning("could not copy check notes onto %s: %s", dag_run.run_id, exc)


class CheckNotes(AirflowPlugin):
    name = "mongo_assets_check_notes"
    listeners = [sys.modules[__name__]]
