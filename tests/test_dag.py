"""The Airflow DAG rendered from the asset graph: tasks and edges mirror the graph exactly."""

from __future__ import annotations

import pytest

from dags.builder import build_dag, table_uri
from etl.engine import load_graph


@pytest.fixture(scope="module")
def graph():
    return load_graph()


def test_one_task_per_asset_a_checkpoint_per_checked_asset_and_data_docs(graph) -> None:
    checked = {"user_sessions", "products"}
    dag = build_dag(graph, checked=checked, schedule=None)
    expected = set(graph.assets) | {f"check_{n}" for n in checked} | {"data_docs"}
    assert {t.task_id for t in dag.tasks} == expected


def test_edges_mirror_the_asset_graph_through_checkpoints(graph) -> None:
    checked = {n for n in graph.assets if graph.assets[n].kind == "table"}
    dag = build_dag(graph, checked=checked, schedule=None)
    for name in graph.order:
        task = dag.get_task(name)
        gates = {f"check_{u}" if u in checked else u for u in graph.upstream[name]}
        assert task.upstream_task_ids == gates, name
        if name in checked:
            assert dag.get_task(f"check_{name}").upstream_task_ids == {name}
    docs_upstream = dag.get_task("data_docs").upstream_task_ids
    leaves = {f"check_{n}" if n in checked else n for n in graph.assets}
    assert docs_upstream == leaves


def test_tasks_declare_their_tables_as_airflow_assets_and_are_grouped(graph) -> None:
    dag = build_dag(graph, checked=set(), schedule=None)
    task = dag.get_task("support_tickets")
    assert {o.uri for o in task.outlets} == {
        table_uri(t) for t in graph.assets["support_tickets"].tables
    }
    assert task.task_group.group_id == "shop"
    assert task.trigger_rule == "none_failed"


def test_dag_settings(graph) -> None:
    dag = build_dag(graph, checked=set(), schedule="@hourly")
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert set(dag.params.keys()) == {"selection", "full_refresh"}
    assert dag.params["selection"] == "*"
    assert dag.default_args["retries"] >= 1
