"""The report's HTML: one self-contained page (inline CSS, charts as base64 data URLs).

Nothing is loaded from anywhere when the page opens, so it can be mailed, attached to a ticket
or opened from an air-gapped laptop. Every value that comes from the data is escaped here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from html import escape

NO_DATA = "No data yet — run <code>python -m etl materialize group:dwh</code>"

CSS = """
body{margin:0;background:#f1f5f9;color:#0f172a;line-height:1.45;
  font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1000px;margin:0 auto;padding:28px 16px 56px}
h1{font-size:1.7rem;margin:0 0 2px}
.meta{color:#64748b;margin:0 0 10px}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:.9rem}
nav a{color:#2563eb;text-decoration:none}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.08);
  padding:18px 22px 22px;margin:18px 0}
h2{font-size:1.15rem;margin:0 0 4px}
.caption{color:#475569;font-size:.92rem;margin:0 0 12px}
.headline{color:#15803d;font-weight:600;font-size:1rem;margin:0 0 10px}
.headline::first-letter{text-transform:uppercase}
.headline.warning{color:#b45309}
.headline.warning::before{content:"\\26A0\\FE0E  "}
img{display:block;width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:6px 8px;border-bottom:1px solid #e2e8f0;text-align:left}
th{color:#475569;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.down{color:#15803d}.up{color:#b91c1c}.best{font-weight:700;color:#15803d}
.empty{color:#92400e;background:#fffbeb;border:1px dashed #f59e0b;border-radius:8px;
  padding:12px 14px;margin:0}
code{background:#f1f5f9;border-radius:4px;padding:1px 5px;font-size:.9em}
"""


@dataclass
class Section:
    """One card of the page; exactly one of png, table and note is set."""

    name: str  # anchor and, for a chart, the PNG's file name
    title: str
    caption: str  # trusted HTML written by this package
    png: bytes | None = None
    table: str | None = None  # trusted HTML from `html_table`
    note: str | None = None  # trusted HTML shown instead of a chart or table
    headline: str | None = None  # plain text: the section's one-line finding
    warning: bool = False  # the headline is something to act on (amber, a warning sign)


Cell = str | tuple[str, str]  # text, or (text, CSS class)


def html_table(headers: list[str], rows: list[list[Cell]], numeric: set[int]) -> str:
    """A table of plain-text (escaped) cells; columns in `numeric` are right-aligned."""

    def cell(tag: str, i: int, value: Cell) -> str:
        text, extra = value if isinstance(value, tuple) else (value, "")
        classes = " ".join(filter(None, ("num" if i in numeric else "", extra)))
        attr = f' class="{classes}"' if classes else ""
        return f"<{tag}{attr}>{escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card(section: Section) -> str:
    parts = [f'<section class="card" id="{section.name}">', f"<h2>{escape(section.title)}</h2>"]
    parts.append(f'<p class="caption">{section.caption}</p>')
    if section.headline:
        kind = "headline warning" if section.warning else "headline"
        parts.append(f'<p class="{kind}">{escape(section.headline)}</p>')
    if section.png is not None:
        data = base64.b64encode(section.png).decode("ascii")
        parts.append(f'<img alt="{escape(section.title)}" src="data:image/png;base64,{data}">')
    elif section.table is not None:
        parts.append(section.table)
    else:
        parts.append(f'<p class="empty">{section.note or NO_DATA}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def render(sections: list[Section], generated_at: datetime) -> str:
    """The whole page."""
    nav = "".join(f'<a href="#{s.name}">{escape(s.title)}</a>' for s in sections)
    when = generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    cards = "\n".join(card(s) for s in sections)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Analytics report</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>Analytics report</h1>
<p class="meta">Generated {escape(when)} from the marts in schema <code>dwh</code>.</p>
<nav>{nav}</nav>
{cards}
</main>
</body>
</html>
"""
