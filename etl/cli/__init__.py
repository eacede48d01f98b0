"""`python -m etl`: materialise assets locally (the rerun tool) and inspect what happened.

Commands are grouped by concern in sibling modules; this module only assembles the app. Each
command imports what it needs when it runs (the definitions, the engine, Airflow, GX), so
`--help` and a command's start do not pay for the others.
"""

from __future__ import annotations

import typer

from etl.cli import bench, demo, inspect, pipeline, profile, report, services, stream
from etl.cli.errors import FriendlyGroup, help_when_bare

app = typer.Typer(
    cls=FriendlyGroup,
    help=(
        "Replicate MongoDB documents into typed PostgreSQL tables and marts, as an asset graph.\n\n"
        "With no POSTGRES_URL / MONGO_URI set, an embedded PostgreSQL server and an embedded "
        "MongoDB server (SecantusDB) under LOCAL_DIR (default .local/) are started on demand "
        "and shared, with a login per component (passwords in LOCAL_DIR/secrets); `down` "
        "stops both."
    ),
    invoke_without_command=True,
    callback=help_when_bare,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

for module in (pipeline, stream, inspect, profile, services, bench, demo, report):
    module.register(app)


def main() -> None:
    app(prog_name="python -m etl")
