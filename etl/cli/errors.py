"""One place that turns expected failures into one line on stderr and exit code 2.

Every command group of the CLIs uses `FriendlyGroup`, so a bad argument, a bad selection, an
unreachable database or a locked asset never shows a traceback or a framed help panel: one line,
`error: ...`, exit code 2. Unexpected exceptions still show a traceback (they are bugs).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from etl.errors import UserFacingError

stderr = Console(stderr=True, highlight=False)

EXIT_USAGE = 2


def help_when_bare(ctx: typer.Context) -> None:
    """A group's callback: with no command, print its help and exit 0 (typer's own
    `no_args_is_help` raises an error that can only be told apart by a private class)."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def fail(message: str) -> typer.Exit:
    """Print `message` as the one-line error and return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
    return typer.Exit(EXIT_USAGE)


class FriendlyGroup(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserFacingError as exc:
            raise fail(str(exc).replace("[", r"\[")) from None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        standalone = kwargs.get("standalone_mode", True)
        kwargs["standalone_mode"] = False  # errors come back here instead of exiting
        if not standalone:
            return super().main(*args, **kwargs)
        try:
            result = super().main(*args, **kwargs)
        except typer.TyperException as exc:
            message = exc.format_message().replace("[", r"\[")
            ctx = getattr(exc, "ctx", None)  # usage errors carry the command's context
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            stderr.print(f"[bold red]error:[/] {message}{hint}", soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            stderr.print("aborted")
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)
