"""Every table the CLI prints keeps names whole at 80 and at 200 columns: asset names, field
paths, run ids and `_id`s are never cut or split mid-word (a table too wide for the terminal
becomes one block per row)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import shop_docs
from typer.testing import CliRunner

from etl.cli import app
from etl.cli import inspect as inspect_cli
from etl.cli import profile as profile_cli

LOOK_ALIKE = ["order-2026-12-06-" + "x" * 40 + tail for tail in ("a", "b")]
DRIFTED = "client_application_version_string"


@pytest.fixture
def loaded(db: Any, mongo: Any) -> dict[str, Any]:
    """user_recommendations and event_logs loaded, then drifted: a new nested field with a
    long name, and two rejected documents whose long string `_id`s differ in the last letter."""
    mongo.event_logs.insert_many([shop_docs.event_log(i) for i in range(1, 4)])
    mongo.user_recommendations.insert_many([shop_docs.user_recommendation(i) for i in (1, 2)])
    assert (
        CliRunner().invoke(app, ["materialize", "event_logs user_recommendations"]).exit_code == 0
    )
    later = shop_docs.T0 + timedelta(days=1)
    drifted = shop_docs.event_log(7, updated_at=later)
    drifted["details"] = {**drifted["details"], DRIFTED: "7.1.0-beta"}
    bad = [shop_docs.event_log(8 + i, _id=_id, updated_at=later, event_type="bogus")
           for i, _id in enumerate(LOOK_ALIKE)]  # fmt: skip
    mongo.event_logs.insert_many([drifted, *bad])
    assert CliRunner().invoke(app, ["materialize", "event_logs"]).exit_code == 0
    return {}


@pytest.mark.parametrize("width", [80, 200])
def test_cli_tables_keep_every_name_whole(
    loaded: dict[str, Any], width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (inspect_cli, profile_cli):
        monkeypatch.setattr(module.console, "width", width)
    runner = CliRunner()
    outputs = {}
    for args in (["drift"], ["rejects"], ["reconcile"], ["profile", "event_logs"], ["status"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        outputs[args[0]] = result.output
        assert max(map(len, result.output.splitlines())) <= width, (args, result.output)
    assert f"details.{DRIFTED}" in outputs["drift"]
    assert all(_id in outputs["rejects"] for _id in LOOK_ALIKE)  # both whole: told apart
    # the header's outstanding count is the one status shows
    assert "2 still outstanding (as status counts them)" in " ".join(outputs["rejects"].split())
    for name in ("event_logs", "user_recommendations"):
        assert name in outputs["reconcile"] and name in outputs["status"]
    assert f"details.{DRIFTED}" in outputs["profile"]
    assert "user_…" not in outputs["reconcile"] and "diffe…" not in outputs["reconcile"]


def test_the_status_legend_explains_the_columns_shown_and_only_those() -> None:
    from etl.cli.render import status_table

    row = {"asset": "event_logs", "status": "success", "rows": 3, "rejects": 0,
           "watermark": None, "finished_at": None}  # fmt: skip
    quiet = status_table([row]).title
    assert quiet is not None and "rej.:" in str(quiet) and "drift:" not in str(quiet)
    drifted = str(status_table([{**row, "drift": 2}]).title)
    assert "drift: new fields or types in the last run" in drifted
