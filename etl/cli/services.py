"""Commands about the services themselves: migrate, down."""

from __future__ import annotations

import typer
from rich.console import Console

from etl.errors import mask_url
from etl.migrations import upgrade
from etl.services.postgres import postgres_url, stop_embedded
from etl.settings import get_settings

console = Console()


def migrate() -> None:
    """Apply the Alembic migrations (`alembic upgrade head`) to the configured warehouse."""
    url = postgres_url()
    upgrade(url)
    console.print(f"warehouse at {mask_url(url)} is at the latest schema revision")


def down() -> None:
    """Stop the embedded PostgreSQL server (data stays under LOCAL_DIR/pg)."""
    settings = get_settings()
    if settings.postgres_url:
        console.print("POSTGRES_URL is set: nothing embedded to stop")
        return
    stopped = stop_embedded(settings)
    console.print(
        "embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running"
    )


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(down)
