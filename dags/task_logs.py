"""Task logs for in-process DAG runs (`dag.test()`, what `make demo` does), where the UI finds them.

Under a scheduler, Airflow's supervisor writes each task's log. `dag.test()` runs tasks in the
calling process and writes none, so the UI would say "Log file not found". While such a run is
under way (`dags.local.run_dag` sets `IN_PROCESS`), each task callable of ours writes what it
logs to the file the UI reads (`logging.log_filename_template` under `base_log_folder`), one
JSON object a line, the format Airflow 3's log view parses.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

IN_PROCESS = "ETL_IN_PROCESS_TASK_LOGS"
"""Set to the logs folder by dags.local.run_dag; unset under a real scheduler."""

OUR_LOGGERS = ("etl", "dags", "ingest")
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class JsonLines(logging.Handler):
    """Log records as Airflow 3 task-log lines: {"timestamp", "level", "event", "logger"}."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stream = path.open("a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()
        super().close()


def log_path(base: Path, context: dict[str, Any]) -> Path:
    """The file Airflow's default `log_filename_template` names for this try."""
    ti = context["ti"]
    mapped = f"map_index={ti.map_index}/" if getattr(ti, "map_index", -1) >= 0 else ""
    return base.joinpath(
        f"dag_id={ti.dag_id}", f"run_id={ti.run_id}", f"task_id={ti.task_id}",
        f"{mapped}attempt={ti.try_number}.log",
    )  # fmt: skip


@contextmanager
def captured(context: dict[str, Any]) -> Iterator[None]:
    """Write the task's log records to its log file while it runs in-process."""
    base = os.environ.get(IN_PROCESS)
    if not base or "ti" not in context:
        yield
        return
    handler = JsonLines(log_path(Path(base), context))
    # our loggers at INFO into the file only (the demo's console stays as quiet as it was);
    # everyone else's warnings reach the file through the root logger
    ours = [logging.getLogger(name) for name in OUR_LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in ours]
    for logger in ours:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    root = logging.getLogger()
    root.addHandler(handler)
    task = context["ti"].task_id
    log.info("task %s started (in-process run)", task)
    try:
        yield
    except BaseException as exc:
        log.error("task %s failed: %s", task, exc)
        raise
    else:
        log.info("task %s finished", task)
    finally:
        root.removeHandler(handler)
        for logger, (level, propagate) in zip(ours, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()


def with_task_log(method: F) -> F:
    """Decorate a task callable (taking **context) so in-process runs leave a log file."""

    @wraps(method)
    def run(*args: Any, **context: Any) -> Any:
        with captured(context):
            return method(*args, **context)

    return run  # type: ignore[return-value]
