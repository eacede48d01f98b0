"""The asset graph: validated at build time, ordered with graphlib, selected dbt-style.

Edges come from declarations only: an asset's `deps`, "reads collection X" ← "ingest asset
writes X", and "mart reads table T" ← "asset writes T" (from the mart's SQL,
etl.engine.declare.lineage).
Mongo collections no asset writes are *source* nodes (drawn, never run).
Selection: `name`, `name+` (and downstream), `+name` (upstream and it), `+name+`,
`group:NAME`, `*`; several separated by commas or spaces form a union.
"""

from __future__ import annotations

import difflib
import graphlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from etl.engine.declare.assets import Asset, SqlAsset
from etl.engine.declare.lineage import tables_read
from etl.engine.values.errors import AssetDeclarationError
from etl.errors import UserFacingError


class SelectionError(UserFacingError, ValueError):
    """A selection that names nothing known; the message suggests close names."""


@dataclass(frozen=True)
class AssetGraph:
    assets: Mapping[str, Asset]
    upstream: Mapping[str, frozenset[str]]
    order: tuple[str, ...]

    @classmethod
    def build(cls, assets: Iterable[Asset]) -> AssetGraph:
        by_name: dict[str, Asset] = {}
        for asset in assets:
            if asset.name in by_name:
                raise AssetDeclarationError(f"asset {asset.name!r} is declared twice")
            by_name[asset.name] = asset
        writers = {coll: a.name for a in by_name.values() for coll in a.produces}
        table_writers = {t: a.name for a in by_name.values() for t in a.tables}
        upstream: dict[str, frozenset[str]] = {}
        for asset in by_name.values():
            unknown = [d for d in asset.deps if d not in by_name]
            if unknown:
                hint = _suggest(unknown[0], by_name)
                raise AssetDeclarationError(
                    f"asset {asset.name!r} depends on unknown asset {unknown[0]!r}{hint}"
                )
            implied = {
                writers[s] for s in asset.sources if s in writers and writers[s] != asset.name
            }
            if isinstance(asset, SqlAsset):
                implied |= _sql_upstream(asset, table_writers)
            upstream[asset.name] = frozenset(asset.deps) | implied
        sorter = graphlib.TopologicalSorter(upstream)
        try:
            order = tuple(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            raise AssetDeclarationError(
                "asset graph has a cycle: " + " -> ".join(reversed(cycle))
            ) from None
        return cls(by_name, upstream, order)

    # -- navigation -------------------------------------------------------------------------

    @property
    def downstream(self) -> dict[str, frozenset[str]]:
        down: dict[str, set[str]] = {name: set() for name in self.assets}
        for name, ups in self.upstream.items():
            for up in ups:
                down[up].add(name)
        return {k: frozenset(v) for k, v in down.items()}

    def ancestors(self, name: str) -> set[str]:
        return _closure(name, self.upstream)

    def descendants(self, name: str) -> set[str]:
        return _closure(name, self.downstream)

    @property
    def groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for name in self.order:
            groups.setdefault(self.assets[name].group, []).append(name)
        return groups

    @property
    def source_collections(self) -> list[str]:
        produced = {c for a in self.assets.values() for c in a.produces}
        return sorted({s for a in self.assets.values() for s in a.sources} - produced)

    # -- selection ---------------------------------------------------------------------------

    def select(self, selection: str | None) -> list[str]:
        """The selected asset names in run order; raises SelectionError for unknown names.

        None selects every asset; an empty string is an error (a forgotten variable in a script
        should not run everything)."""
        tokens = [t for t in re.split(r"[,\s]+", "*" if selection is None else selection) if t]
        if not tokens:
            raise SelectionError("empty selection: name assets, or '*' for all of them")
        chosen: set[str] = set()
        for token in tokens:
            chosen |= self._select_token(token)
        return [name for name in self.order if name in chosen]

    def _select_token(self, token: str) -> set[str]:
        if token == "*":
            return set(self.assets)
        if token.startswith("group:"):
            group = token[len("group:") :]
            members = {n for n, a in self.assets.items() if a.group == group}
            if not members:
                hint = _suggest(group, self.groups)
                raise SelectionError(f"unknown group {group!r}{hint}")
            return members
        up, down = token.startswith("+"), token.endswith("+")
        name = token.strip("+")
        if name not in self.assets:
            raise SelectionError(f"unknown asset {name!r}{_suggest(name, self.assets)}")
        result = {name}
        if up:
            result |= self.ancestors(name)
        if down:
            result |= self.descendants(name)
        return result

    # -- rendering ---------------------------------------------------------------------------

    def to_mermaid(self) -> str:
        lines = ["flowchart LR"]
        for coll in self.source_collections:
            lines.append(f"    src_{coll}[({coll})]")
        for group, names in self.groups.items():
            lines.append(f"    subgraph {group}")
            lines.extend(f"        {n}[{n}]" for n in names)
            lines.append("    end")
        for name in self.order:
            asset = self.assets[name]
            for src in asset.sources:
                if src in self.source_collections:
                    lines.append(f"    src_{src} --> {name}")
            lines.extend(f"    {up} --> {name}" for up in sorted(self.upstream[name]))
        return "\n".join(lines)

    def to_text(self) -> str:
        lines = []
        for group, names in self.groups.items():
            lines.append(f"{group}:")
            for name in names:
                asset = self.assets[name]
                inputs = [f"mongo:{s}" for s in asset.sources if s in self.source_collections]
                inputs += sorted(self.upstream[name])
                outputs = ", ".join(asset.tables or tuple(f"mongo:{c}" for c in asset.produces))
                lines.append(f"  {name} [{asset.kind}] <- {', '.join(inputs) or '-'} => {outputs}")
        return "\n".join(lines)


def _closure(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _sql_upstream(asset: SqlAsset, table_writers: Mapping[str, str]) -> set[str]:
    """The assets that write the tables a mart's SQL reads (its own table excluded)."""
    sqls = [asset.sql] + ([asset.incremental.changed] if asset.incremental else [])
    try:
        read = set().union(*(tables_read(sql) for sql in sqls))
    except AssetDeclarationError as exc:
        raise AssetDeclarationError(f"mart {asset.name!r}: {exc}") from None
    unknown = sorted(t for t in read if t not in table_writers)
    if unknown:
        hint = _suggest(unknown[0], table_writers)
        raise AssetDeclarationError(
            f"mart {asset.name!r} reads {unknown[0]!r}, which no asset writes{hint}"
        )
    return {table_writers[t] for t in read} - {asset.name}
