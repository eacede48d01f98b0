"""One place that turns expected failures into one line on stderr and exit code 2.

Every command group of the CLI uses `FriendlyGroup`, so a bad selection, an unreachable database
or a locked asset never shows a traceback; unexpected exceptions still do (they are bugs).
"""

from __future__ import annotations

from typing import Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from etl.errors import UserFacingError

stderr = Console(stderr=True, highlight=False)

EXIT_USAGE = 2


def fail(message: str) -> typer.Exit:
    """Print `message` as the one-line error and return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


class FriendlyGroup(TyperGroup):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserFacingError as exc:
            raise fail(str(exc)) from None
