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
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click: its classes
from typer.core import TyperGroup

from etl.errors import UserFacingError

stderr = Console(stderr=True, highlight=False)

EXIT_USAGE = 2


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

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except typer.TyperException as exc:
            message = exc.format_message().replace("[", r"\[")
            hint = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
            stderr.print(f"[bold red]error:[/] {message}{hint}", soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            stderr.print("aborted")
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)
