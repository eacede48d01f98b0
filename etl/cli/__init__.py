"""`python -m etl`: materialise assets locally (the rerun tool) and inspect what happened.

Commands are grouped by concern in sibling modules; this module only assembles the app.
"""

from __future__ import annotations

import gc

import typer

from etl.cli import bench, demo, inspect, pipeline, profile, report, services
from etl.cli.errors import FriendlyGroup, help_when_bare

app = typer.Typer(
    cls=FriendlyGroup,
    help=(
        "Replicate MongoDB documents into typed PostgreSQL tables and marts, as an asset graph.\n\n"
        "With no POSTGRES_URL / MONGO_URI set, an embedded PostgreSQL server and an embedded "
        "MongoDB server (SecantusDB) under LOCAL_DIR (default .local/) are started on demand "
        "and shared; `down` stops both."
    ),
    invoke_without_command=True,
    callback=help_when_bare,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

for module in (pipeline, inspect, profile, services, bench, demo, report):
    module.register(app)


def main() -> None:
    # the imports above made ~1M long-lived objects; freezing them keeps every later
    # full collection from walking them again (measured: 0.2 s of a 1.6 s no-change run)
    gc.freeze()
    app(prog_name="python -m etl")
