"""The analytics report: one self-contained HTML page plus a PNG per chart, from the marts.

`build_report()` reads every section's mart (schema `dwh`), draws the charts and writes
`<out>/index.html` and `<out>/<chart>.png`. A missing or empty mart becomes a "No data yet"
section rather than an error, so the report can be built at any stage of a pipeline's life.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from etl.engine.observe.drift import drift
from etl.report.data import QUERIES, fetch
from etl.report.page import Section, render
from etl.report.sections import SPECS, build, drift_section
from etl.services.postgres import pg_connect
from etl.settings import get_settings

__all__ = ["build_report", "default_out_dir"]


def default_out_dir() -> Path:
    return get_settings().report_path


def build_report(out_dir: Path | None = None, on_step: Callable[[str], None] | None = None) -> Path:
    """Write the report into `out_dir` (default ETL_REPORT_DIR or LOCAL_DIR/report); return
    its index.html.

    `on_step` is told what is being done (for a spinner). The connection is in autocommit, so
    each mart is read as last committed: under one snapshot for the whole report, a mart
    rebuilt meanwhile (a new table swapped in) would read as empty. Nothing is written before
    every mart was read, so an unreachable database leaves an earlier report untouched.
    """
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    step = on_step or (lambda _: None)
    sections: list[Section] = []
    with pg_connect(autocommit=True) as conn:
        for spec in SPECS:
            step(f"reading dwh.{QUERIES[spec.name].mart}")
            rows = fetch(conn, QUERIES[spec.name])
            step(f"drawing {spec.title.lower()}")
            sections.append(build(spec, rows))
        step("reading etl.field_inventory")
        sections.append(drift_section(drift(conn)))
    step("writing the page")
    out.mkdir(parents=True, exist_ok=True)
    for section in sections:
        chart = out / f"{section.name}.png"
        if section.png is not None:
            chart.write_bytes(section.png)
        else:
            chart.unlink(missing_ok=True)  # no stale chart from an earlier build next to the page
    index = out / "index.html"
    partial = out / ".index.html.tmp"
    partial.write_text(render(sections, datetime.now().astimezone()), encoding="utf-8")
    os.replace(partial, index)  # a browser reloading the page never sees half of it
    return index
