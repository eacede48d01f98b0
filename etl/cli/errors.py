"""One place that turns expected failures into one line on stderr and exit code 2.

Every command group of the CLIs uses `FriendlyGroup`, so a bad argument, a bad selection, an
unreachable database or a locked asset never shows a traceback or a framed help panel: one line,
`error: ...`, exit code 2. Unexpected exceptions still show a traceback (they are bugs).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from etl.errors import UserFacingError

stderr = Console(stderr=True, highlight=False)

EXIT_USAGE = 2


def reflow(text: str | None) -> str | None:
    """A docstring as paragraphs the terminal wraps: lines of one paragraph are joined (typer's
    rich mode keeps source line breaks, which break up help at 80 columns); lists keep theirs."""
    if not text:
        return text
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.splitlines()
        merged: list[str] = []
        for line in lines:
            if merged and not line.lstrip().startswith(("- ", "* ")):
                merged[-1] += " " + line.strip()
            else:
                merged.append(line)
        paragraphs.append("\n".join(merged))
    return "\n\n".join(paragraphs)


def tidy_help(command: Any) -> None:
    """Reflow every command's help and hide the `<bool>` type label of flags, recursively."""
    command.help = reflow(command.help)
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        if getattr(param, "help", None):
            param.help = reflow(param.help)
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


def help_when_bare(ctx: typer.Context) -> None:
    """A group's callback: with no command, print its help and exit 0 (typer's own
    `no_args_is_help` raises an error that can only be told apart by a private class)."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def _refused_by_postgres(exc: Exception) -> bool:
    """A privilege PostgreSQL refused (psycopg is loaded if it raised; not imported here, so
    that `--help` stays fast)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.errors.InsufficientPrivilege)


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
        except Exception as exc:
            if not _refused_by_postgres(exc):
                raise
            reason = str(exc).strip().splitlines()[0]
            raise fail(
                f"PostgreSQL refused: {reason}. The ETL's login gets its rights from `python -m "
                "etl migrate`, run as the schemas' owner (README, \"Security\")"
            ) from None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tidy_help(self)
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
