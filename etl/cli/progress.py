"""The rich progress display that `materialize` (and the demo) show while assets run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

if TYPE_CHECKING:
    from etl.engine.values.results import ProgressHook


@contextmanager
def asset_progress(console: Console | None = None) -> Iterator[ProgressHook]:
    """A progress hook drawing one bar per asset (documents done of documents expected)."""
    progress = Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("docs"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def hook(asset: str, done: int, total: int | None) -> None:
        task = tasks.get(asset)
        if task is None:
            task = tasks[asset] = progress.add_task(asset, total=total)
        progress.update(task, completed=done, total=total if total is not None else done)

    with progress:
        yield hook
