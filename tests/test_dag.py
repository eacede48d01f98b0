"""The Airflow DAG rendered from the asset graph: tasks and edges mirror the graph exactly."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from dags.builder import build_dag
from dags.lineage import collection_uri, quality_uri, table_uri
from etl.definitions import defs
from etl.quality.offline import external_references


@pytest.fixture(scope="module")
def graph():
    return defs.graph


def build(**options):
    return build_dag(defs, **options)


PARTITIONED = {"user_sessions", "event_logs", "request_logs"}


def test_one_task_per_asset_a_checkpoint_per_checked_asset_and_data_docs(graph) -> None:
    checked = {"user_sessions", "products"}
    dag = build(checked=checked, schedule=None)
    assert {n for n, a in graph.assets.items() if getattr(a, "partitioned", False)} == PARTITIONED
    expected = set(graph.assets) | {f"check_{n}" for n in checked}
    expected |= {f"{step}_{n}" for n in PARTITIONED for step in ("plan", "load")}
    expected |= {"data_docs", "analytics_report"}
    assert {t.task_id for t in dag.tasks} == expected


def test_a_partitioned_asset_plans_then_maps_one_task_per_range(graph) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = build(checked=None, schedule=None, range_workers=3)
    plan, load = dag.get_task("plan_user_sessions"), dag.get_task("load_user_sessions")
    assert isinstance(load, MappedOperator) and not isinstance(plan, MappedOperator)
    assert load.max_active_tis_per_dagrun == 3
    assert load.upstream_task_ids == {"plan_user_sessions"}
    assert dag.get_task("user_sessions").upstream_task_ids == {"load_user_sessions"}
    assert dag.get_task("user_sessions").trigger_rule == "none_failed"
    # the upstream ingest step gates the plan of the asset reading its collection
    assert dag.get_task("plan_request_logs").upstream_task_ids == {"collect_fares"}


def test_edges_mirror_the_asset_graph_through_checkpoints(graph) -> None:
    checked = {n for n in graph.assets if graph.assets[n].kind == "table"}
    dag = build(checked=checked, schedule=None)
    for name in graph.order:
        task = dag.get_task(f"plan_{name}" if name in PARTITIONED else name)
        gates = {f"check_{u}" if u in checked else u for u in graph.upstream[name]}
        assert task.upstream_task_ids == gates, name
        if name in checked:
            reads = {r.name for c in defs.checks if c.asset.name == name for r in c.reads}
            assert dag.get_task(f"check_{name}").upstream_task_ids == {name} | reads
    leaves = {f"check_{n}" if n in checked else n for n in graph.assets}
    assert dag.get_task("data_docs").upstream_task_ids == leaves
    assert dag.get_task("analytics_report").upstream_task_ids == leaves


def test_tasks_declare_their_tables_as_airflow_assets_and_are_grouped(graph) -> None:
    dag = build(checked=set(), schedule=None)
    task = dag.get_task("support_tickets")
    assert {o.uri for o in task.outlets} == {
        table_uri(t) for t in graph.assets["support_tickets"].tables
    }
    assert task.task_group.group_id == "shop"
    assert task.trigger_rule == "none_failed"


def test_dag_settings(graph) -> None:
    dag = build(checked=set(), schedule="@hourly")
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert set(dag.params.keys()) == {"selection", "full_refresh"}
    assert dag.params["selection"] == "*"
    assert dag.default_args["retries"] >= 1


def test_a_blocking_failure_fails_the_checkpoint_task_and_a_warning_does_not(db) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from dags.tasks import AssetTasks

    run_checkpoint = AssetTasks(defs).run_checkpoint

    insert = (
        "INSERT INTO shop.user_sessions (source_id, source_updated_at, source_hash, session_id,"
        " user_id, start_time, end_time) VALUES (%s, %s, '\\x00', %s, 'U', now(), %s)"
    )
    db.execute(insert, ["a", "2026-01-01Z", "s1", "2099-01-01Z"])  # stale: a warning only
    warned = run_checkpoint("user_sessions")
    assert warned["warnings"] >= 1
    assert warned["note"].startswith("⚠ WARNINGS: ") and "shop.user_sessions: " in warned["note"]
    db.execute(insert, ["b", "2026-01-01Z", "s2", "2000-01-01Z"])  # ends before it starts
    with pytest.raises(AirflowFailException, match="blocking expectations failed"):
        run_checkpoint("user_sessions")


def test_dag_test_end_to_end_on_the_embedded_services(db, mongo) -> None:
    from dags.local import run_dag
    from generator.shop import write_once

    write_once(mongo, 60, seed=8)
    report = run_dag("*")
    assert report.state == "success", report.tasks
    assert set(report.tasks.values()) == {"success"}
    # the first load of a partitioned asset: one mapped task per range (ETL_PARTITIONS=4)
    assert {t for t in report.tasks if t.startswith("load_user_sessions")} == {
        f"load_user_sessions[{i}]" for i in range(4)
    }
    ranges = db.execute(
        "SELECT count(*), sum(documents_read) FROM etl.snapshot_ranges r JOIN etl.snapshots s"
        " USING (snapshot_id) WHERE s.asset = 'user_sessions' AND s.status = 'finished'"
    ).fetchone()
    assert ranges == (4, 60)
    assert db.execute("SELECT count(*) FROM shop.user_sessions").fetchone()[0] == 60
    runs = db.execute("SELECT DISTINCT run_id FROM etl.asset_runs").fetchall()
    assert len(runs) == 1 and runs[0][0].startswith("manual__")  # the Airflow run id
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = {
            uri: extra
            for uri, extra in session.query(AssetModel.uri, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .all()
        }
        from airflow.models.taskinstance import TaskInstance

        labels = sorted(
            label
            for (label,) in session.query(TaskInstance.rendered_map_index).filter(
                TaskInstance.task_id == "load_user_sessions"
            )
        )
        # a check that only warned carries its warnings as a note (the grid marks it); a clean
        # check carries none (dags/plugins/check_notes.py copies the returned note at run end)
        from airflow.models.xcom import XComModel

        checks = session.query(TaskInstance).filter(TaskInstance.task_id.startswith("check_"))
        notes = {ti.task_id: ti.note for ti in checks}
        returned = {
            x.task_id: XComModel.deserialize_value(x)
            for x in session.query(XComModel).filter(XComModel.task_id.startswith("check_"))
        }
    assert set(notes) == set(returned) and notes
    for task_id, value in returned.items():
        assert notes[task_id] == value["note"], task_id
        assert (value["note"] is not None) == (value["warnings"] > 0), task_id
    assert any(note for note in notes.values()), notes  # the fixture has a warning check
    # the UI names each mapped range task after its range
    assert [label.split(",")[0] for label in labels] == [f"range {i}/4" for i in range(1, 5)]
    sessions_event = events[table_uri("shop.user_sessions")]
    assert sessions_event["documents_read"] == 60 and sessions_event["rows_written"] == 60
    assert sessions_event["run_id"].startswith("manual__")
    check_event = events[quality_uri("shop.user_sessions")]
    assert check_event["result"] in {"passed", "warnings"} and check_event["evaluated"] > 0
    # the in-process run leaves each task's log where the UI reads it, one JSON object a line
    logs = sorted(
        (Path(os.environ["AIRFLOW_HOME"]) / "logs" / "dag_id=mongo_assets").glob(
            "run_id=*/task_id=check_user_sessions/attempt=1.log"
        )
    )
    assert logs, "no task log for check_user_sessions"
    events = [json.loads(line)["event"] for line in logs[-1].read_text().splitlines()]
    assert events[0] == "task check_user_sessions started (in-process run)"
    assert events[1].startswith(("verdict: PASSED", "verdict: WARNINGS")), events[:3]
    assert any(e.startswith("shop.user_sessions: ") and "expectations" in e for e in events)
    assert any(e.startswith("reconcile: user_sessions: 60 documents = 60 rows") for e in events)
    # no login's password (the embedded servers' generated ones, known here) in any task log
    from etl.settings import get_settings

    passwords = [p.read_text().strip() for p in get_settings().secrets_dir.glob("*.password")]
    task_logs = list((Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*.log"))
    assert len(passwords) >= 8 and len(task_logs) > 20
    for log in task_logs:
        text = log.read_text()
        assert not [p for p in passwords if p in text], log
    # the next run is incremental: the plan yields no range, the asset's task loads
    again = run_dag("user_sessions")
    assert again.state == "success", again.tasks
    assert again.tasks["plan_user_sessions"] == "success"
    assert again.tasks["load_user_sessions"] == "skipped"  # mapped over nothing
    assert again.tasks["user_sessions"] == "success"
    from etl.quality import build_docs

    index = build_docs(defs)
    assert index.exists()
    html = index.read_text()
    assert all(t in html for t in ("shop.user_sessions", "shop.support_tickets", "shop.products"))
    # the built site loads nothing from outside, and the index says what each page says
    assert external_references(index.parent) == []
    verdicts = index_verdicts(index)
    assert verdicts and all(said == page for _, said, page in verdicts), verdicts


def index_verdicts(index: Path) -> list[tuple[str, str, str]]:
    """(link, the index's verdict, the page's verdict) for every validation row, read as the
    index page's script reads them: the rows of its data array, links URL-decoded."""
    rows = re.findall(
        r"\{'validation_success': .*?'asset_name': '[^']*'\}", index.read_text(), re.S
    )
    out = []
    for row in rows:
        link = unquote(re.search(r"'_table_row_link_path': '([^']*)'", row).group(1))
        said = re.search(r"'_validation_success_text': '([^']*)'", row).group(1)
        status = (index.parent / link).read_text().split("Status:</span>", 1)[1][:300]
        page = (
            "Warnings" if "Warnings (no blocking" in status
            else "Failed" if "Failed" in status else "Success"
        )  # fmt: skip
        out.append((link, said, page))
    return out


def test_assets_outside_the_selection_are_skipped_visibly(db, mongo) -> None:
    from dags.local import run_dag
    from generator.shop import write_once

    write_once(mongo, 20, seed=9)
    report = run_dag("event_logs")
    assert report.tasks["event_logs"] == "success"
    assert report.tasks["check_event_logs"] == "success"
    assert report.tasks["user_sessions"] == "skipped"
    assert report.tasks["check_user_sessions"] == "skipped"
    assert report.tasks["data_docs"] == "success"
    assert report.tasks["analytics_report"] == "success"


def test_tasks_declare_inlets_so_lineage_runs_collection_to_table_to_mart(graph) -> None:
    dag = build(checked=None, schedule=None)
    sessions = dag.get_task("user_sessions")
    assert {i.uri for i in sessions.inlets} == {collection_uri("user_sessions")}
    activity = dag.get_task("user_activity_daily")
    expected = {
        table_uri(t)
        for up in ("user_sessions", "search_queries", "support_tickets")
        for t in graph.assets[up].tables
    }
    assert {i.uri for i in activity.inlets} == expected
    assert {o.uri for o in activity.outlets} == {table_uri("dwh.user_activity_daily")}
    collect = dag.get_task("collect_fares")
    assert {o.uri for o in collect.outlets} == {collection_uri("aviasales_requests")}
    assert {o.uri for o in dag.get_task("check_user_sessions").outlets} == {
        quality_uri(t) for t in ("shop.user_sessions", "shop.session_pages", "shop.session_actions")
    }


def test_the_ui_command_serves_the_demo_dag(db: object) -> None:
    """`python -m etl ui` starts Airflow's API server on the demo's metadata, no login."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import psutil

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "etl", "ui", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/v2/dags/mongo_assets"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    status = answer.status
                    dag = json.loads(answer.read())
                break
            except OSError:
                time.sleep(1)
        assert status == 200, server.stdout.read() if server.poll() is not None else "no answer"
        assert dag["dag_id"] == "mongo_assets"
        children = psutil.Process(server.pid).children(recursive=True)
        assert children  # the API server and its workers
        server.terminate()  # SIGTERM to `etl ui` alone, as a supervisor stops it
        assert server.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], [p.cmdline() for p in alive]
        with socket.socket() as again:  # nothing answers on the port any more
            assert again.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if server.poll() is None:
            server.kill()


def test_importing_the_dag_file_logs_no_parser_noise() -> None:
    """Every DAG-processor pass imports the file: sqlglot's INFO notes must not reach its log."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import dags.mongo_assets"],
        env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},  # Airflow's default
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sqlglot" not in done.stdout + done.stderr
