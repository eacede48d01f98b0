"""`python -m etl profile`: what the documents hold that the tables don't.

The counting lives in etl.engine.observe.profile; this module picks the collections and shows it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from etl.errors import UserFacingError

if TYPE_CHECKING:
    from etl.engine import TableAsset
    from etl.engine.observe.profile import Profile

console = Console()


def targets(selection: str | None) -> list[tuple[str, TableAsset | None]]:
    """(collection, the table asset that reads it) for a selection or a collection name."""
    from etl.definitions import defs
    from etl.engine import TableAsset

    readers = {a.source: a for a in defs.assets if isinstance(a, TableAsset)}
    if selection is None:
        return sorted(readers.items())
    if selection in readers or (selection not in defs.graph.assets and "_" in selection):
        sources = set(defs.graph.source_collections) | set(readers)
        if selection in sources:
            return [(selection, readers.get(selection))]
    chosen = [defs.graph.assets[n] for n in defs.graph.select(selection)]
    found: list[tuple[str, TableAsset | None]] = [
        (a.source, a) for a in chosen if isinstance(a, TableAsset)
    ]
    if not found:
        raise UserFacingError(
            f"{selection!r} names no table asset and no collection an asset reads"
        )
    return found


def sampled(documents: Iterator[dict[str, Any]], fraction: float) -> Iterator[dict[str, Any]]:
    """A deterministic sample: the same documents every time (by a hash of their `_id`)."""
    from etl.engine.values.identity import source_key

    if fraction >= 1:
        yield from documents
        return
    limit = int(fraction * 2**64)
    for doc in documents:
        digest = hashlib.blake2b(source_key(doc.get("_id")).encode(), digest_size=8).digest()
        if int.from_bytes(digest, "big") < limit:
            yield doc


def profile(
    target: Annotated[
        str | None,
        typer.Argument(
            help="Assets (selection syntax) or a collection name; default: every collection a "
            "table asset reads."
        ),
    ] = None,
    sample: Annotated[
        float,
        typer.Option(min=0.0001, max=1.0, help="Share of documents to read (deterministic)."),
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profiles as JSON.")] = False,
) -> None:
    """Every field path of each collection: BSON types with counts, presence, examples,
    min/max; the paths the transform reads (recorded through Doc, exact); unmapped fields; type
    conflicts with example _ids; cursor health. Reads every document unless --sample."""
    from etl.engine.observe.profile import profile_documents
    from etl.services.mongo import mongo_database, read_collection

    database = mongo_database()
    profiles = []
    with Progress(
        TextColumn("[bold]{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=as_json,
    ) as bar:  # fmt: skip
        for collection, asset in targets(target):
            source = read_collection(database, collection)
            task = bar.add_task(collection, total=source.count_documents({}))
            documents = sampled(iter(source.find({})), sample)

            def advance(task: TaskID = task) -> None:
                bar.advance(task)

            profiles.append(profile_documents(documents, collection, asset, on_document=advance))
    if as_json:
        typer.echo(json.dumps([p.to_json() for p in profiles], indent=2, default=str))
        return
    for p in profiles:
        show(p)


def show(p: Profile) -> None:
    from etl.cli.render import records
    from etl.engine.observe.drift import ADOPT, suggest_column
    from etl.engine.observe.profile import plain

    title = f"{p.collection}: {p.documents:,} documents" + (f" -> {p.asset}" if p.asset else "")
    rows: list[tuple[str, ...]] = []
    for f in p.fields.values():
        types = ", ".join(f"{t} {n:,}" for t, n in f.types.most_common())
        span = f"{plain(f.minimum)} .. {plain(f.maximum)}" if f.minimum is not None else ""
        container = set(f.types) <= {"object", "array"} or f.path == "_id"
        read = "" if p.asset is None or container else ("yes" if f.read else "[yellow]no[/]")
        rows.append((escape(f.path), types, f"{f.presence(p.documents):.0%}",
                     escape(", ".join(f.examples)), escape(span), read))  # fmt: skip
    headers = ("field", "types", "present", "examples", "min .. max", "read")
    records(console, title, headers, rows, numeric=("present",))
    if p.unmapped:
        console.print("[yellow]unmapped[/] (in the source, read by nothing), as model columns:")
        for f in p.unmapped:
            seen = [t for t, _ in f.types.most_common()]
            column = suggest_column(f.path, seen, f.presence(p.documents))
            console.print(f"  {f.path}: [bold]{column}[/]")
        console.print("  " + ADOPT.format(asset=p.asset))
    for c in p.conflicts.values():
        reasons = "; ".join(f"{r} ({n})" for r, n in c.reasons.most_common(3))
        console.print(
            f"[red]type conflict[/] {c.path}: {c.documents:,} documents, e.g. "
            f"{', '.join(c.example_ids)}: {reasons}"
        )
    health = ", ".join(f"{state} {n:,}" for state, n in p.cursor.most_common())
    console.print(f"cursor (updated_at): {health}\n")


def register(app: typer.Typer) -> None:
    app.command()(profile)
