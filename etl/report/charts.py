"""The report's charts: matplotlib on the Agg canvas, each returned as PNG bytes.

Figures are built with `matplotlib.figure.Figure` rather than pyplot: there is no global figure
registry to leak memory between calls and no GUI backend is ever picked, so a chart renders the
same on a server, in a test and on a laptop. Every function takes the rows of `data.QUERIES`
for its section (never empty: the page handles missing data before calling).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from etl.report.airlines import airline_label
from etl.report.data import Rows, Window, bucket_averages

BLUE, ORANGE, GREY, GREEN, RED = "#2563eb", "#f59e0b", "#94a3b8", "#16a34a", "#dc2626"
WIDTH = 10.0  # inches; at DPI this fills the page's 960 px column on a retina screen
DPI = 120
STYLE = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#cbd5e1",
    "axes.grid": True,
    "grid.color": "#e2e8f0",
    "grid.linewidth": 0.6,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "axes.axisbelow": True,
    "xtick.color": "#475569",
    "ytick.color": "#475569",
}

thousands = FuncFormatter(lambda v, _: f"{v:,.0f}".replace(",", "\u2009"))


def counts(axis: Any) -> None:
    """Whole-number ticks with thousands separators, for axes that count things."""
    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(thousands)


@contextmanager
def figure(height: float, nrows: int = 1, ncols: int = 1, **kw: Any) -> Iterator[Any]:
    """A styled figure and its axes (as `Figure.subplots` returns them)."""
    with mpl.rc_context(STYLE):  # type: ignore[arg-type]  # rcParams keys are Literals
        fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig, fig.subplots(nrows, ncols, squeeze=False, **kw)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def route(row: dict[str, Any], currency: bool = False) -> str:
    label = f"{row['origin']} → {row['destination']}"
    return f"{label} ({row['currency'].upper()})" if currency else label


def dates_axis(ax: Axes, days: list[Any]) -> None:
    if len(set(days)) == 1:  # one day of data: show a few days around it, not years
        ax.set_xlim(days[0] - timedelta(days=3), days[0] + timedelta(days=3))
    locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def price_dynamics(rows: Rows) -> bytes:
    """Small multiples, one per route: the median over departure days of the cheapest fare,
    by search day. Each panel has its own y scale: routes differ in level, the shape matters."""
    series: dict[str, Rows] = {}
    for row in rows:
        series.setdefault(route(row, currency=True), []).append(row)
    ncols = 1 if len(series) == 1 else 2 if len(series) <= 4 else 3
    nrows = math.ceil(len(series) / ncols)
    with figure(2.4 * nrows + 0.4, nrows, ncols) as (fig, axes):
        for ax, (name, points) in zip(axes.flat, series.items(), strict=False):
            days = [p["search_date"] for p in points]
            prices = [p["median_min_price"] for p in points]
            ax.plot(days, prices, color=BLUE, marker="o", markersize=3, linewidth=1.6)
            ax.set_title(name)
            ax.yaxis.set_major_formatter(thousands)
            dates_axis(ax, days)
            if len(prices) > 1 and prices[0]:
                change = 100 * (prices[-1] / prices[0] - 1)
                colour = GREEN if change <= 0 else RED
                ax.text(0.99, 0.95, f"{change:+.1f} %", transform=ax.transAxes, ha="right",
                        va="top", color=colour, fontweight="bold")  # fmt: skip
        for ax in list(axes.flat)[len(series) :]:
            ax.set_visible(False)
        fig.supxlabel("search day", fontsize=9, color="#475569")
        fig.supylabel("cheapest fare (median over departure days)", fontsize=9)
        return png(fig)


def booking_window(rows: Rows, cheapest: Window) -> bytes:
    """price_index by days-before-departure bucket: a thin line per route, their average in
    bold, the cheapest bucket of the average marked and labelled."""
    averages = bucket_averages(rows)
    buckets = [bucket for bucket, _ in averages]
    position = {bucket: i for i, bucket in enumerate(buckets)}
    per_route: dict[str, Rows] = {}
    for row in rows:
        per_route.setdefault(route(row), []).append(row)
    with figure(4.2) as (fig, axes):
        ax = axes[0, 0]
        ax.axhline(1.0, color=GREY, linestyle="--", linewidth=1)
        for i, points in enumerate(per_route.values()):
            xs = [position[p["bucket"]] for p in points]
            ax.plot(xs, [p["price_index"] for p in points], color=GREY, linewidth=0.8, alpha=0.7,
                    label="each route" if i == 0 else None)  # fmt: skip
        ax.plot(range(len(buckets)), [v for _, v in averages], color=BLUE, linewidth=2.8,
                marker="o", label=f"average of {len(per_route)} routes")  # fmt: skip
        x = position[cheapest.bucket]
        ax.scatter([x], [cheapest.index], s=160, color=GREEN, zorder=5, label="cheapest window")
        ax.annotate(window_headline(cheapest), (x, cheapest.index), xytext=(0, -28),
                    textcoords="offset points", ha="center", va="top", color=GREEN,
                    fontweight="bold", arrowprops={"arrowstyle": "-", "color": GREEN})  # fmt: skip
        low, high = ax.get_ylim()
        ax.set_ylim(low - 0.12 * (high - low), high)
        ax.set_xticks(range(len(buckets)), buckets)
        ax.set_xlabel("days before departure (search made this far ahead)")
        ax.set_ylabel("price index (1.0 = the flight's average)")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f}"))
        ax.legend(loc="upper right")
        return png(fig)


def window_headline(window: Window) -> str:
    """'buy 46-60 days ahead: 12 % below average' from the average index of the bucket."""
    gap = round(100 * (1 - window.index))
    side = "below" if gap >= 0 else "above"
    return f"buy {window.bucket} days ahead: {abs(gap)} % {side} average"


def window_summary(window: Window) -> str:
    """The headline and how sure it is: how often the routes' resamples agree on the bucket."""
    headline = window_headline(window)
    routes = f"{window.routes} route" + ("s" if window.routes != 1 else "")
    sure = f"cheapest in {window.share:.0%} of resamples of the {routes}"
    if window.sure or window.runner_up is None:
        return f"{headline} ({sure})"
    return (
        f"{headline}, but the data cannot tell it from {window.runner_up} days yet ({sure}, "
        f"{window.runner_up} in {window.runner_up_share:.0%})"
    )


def route_prices(rows: Rows) -> bytes:
    """Average and median fare per route as paired horizontal bars, each labelled with the
    airline whose median is lowest on it."""
    labels = [route(r, currency=True) for r in rows]
    ys = range(len(rows))
    with figure(0.45 * len(rows) + 1.2) as (fig, axes):
        ax = axes[0, 0]
        ax.barh([y - 0.2 for y in ys], [r["avg_price"] for r in rows], 0.4, color=BLUE,
                label="average")  # fmt: skip
        ax.barh([y + 0.2 for y in ys], [r["median_price"] for r in rows], 0.4, color=ORANGE,
                label="median")  # fmt: skip
        top = max(max(r["avg_price"], r["median_price"]) for r in rows)
        for y, r in zip(ys, rows, strict=True):
            if r["cheapest_airline"]:
                median = thousands(r["cheapest_airline_median"] or 0, None)
                ax.text(max(r["avg_price"], r["median_price"]) + top * 0.01, y,
                        f"cheapest: {airline_label(r['cheapest_airline'])} (median {median})",
                        va="center",
                        fontsize=8, color="#334155")  # fmt: skip
        ax.set_xlim(0, top * 1.6)
        ax.set_yticks(list(ys), labels)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlabel("fare over every offer collected")
        fig.legend(loc="outside upper right", ncols=2)
        return png(fig)


def user_activity(rows: Rows) -> bytes:
    """Daily active users above, sessions per day below, on one shared day axis."""
    days = [r["day"] for r in rows]
    with figure(4.6, 2, 1, sharex=True) as (fig, axes):
        top, bottom = axes[0, 0], axes[1, 0]
        users = [r["active_users"] for r in rows]
        top.plot(days, users, color=BLUE, linewidth=1.6)
        top.fill_between(days, users, color=BLUE, alpha=0.12)
        top.set_title("daily active users")
        bottom.bar(days, [r["sessions"] for r in rows], color=ORANGE, width=0.8)
        bottom.set_title("sessions per day")
        for ax in (top, bottom):
            counts(ax.yaxis)
            ax.set_ylim(bottom=0)
        dates_axis(bottom, days)
        return png(fig)


def duration_unit(minutes: float) -> tuple[str, float]:
    """Minutes, hours or days, whichever keeps the largest bar readable."""
    if minutes >= 3 * 24 * 60:
        return "days", 24 * 60
    return ("hours", 60) if minutes >= 180 else ("minutes", 1)


def paired_bars(ax: Axes, rows: Rows, keys: tuple[str, str], colours: tuple[str, str],
                names: tuple[str, str], scale: float = 1) -> None:  # fmt: skip
    """Two bars per row (first above the second once the y axis is inverted)."""
    for offset, key, colour, name in zip((-0.2, 0.2), keys, colours, names, strict=True):
        values = [(r[key] or 0) / scale for r in rows]
        ax.barh([y + offset for y in range(len(rows))], values, 0.4, color=colour, label=name)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="best")


def support_sla(rows: Rows) -> bytes:
    """Left: median and p90 time to close per issue type; right: tickets opened vs closed."""
    unit, divisor = duration_unit(max(r["p90_minutes"] or 0 for r in rows))
    with figure(0.5 * len(rows) + 1.6, 1, 2, sharey=True) as (fig, axes):
        left, right = axes[0, 0], axes[0, 1]
        paired_bars(left, rows, ("median_minutes", "p90_minutes"), (BLUE, ORANGE),
                    ("median", "p90"), scale=divisor)  # fmt: skip
        for y, r in enumerate(rows):
            if r["median_minutes"] is None:
                left.text(0, y, "  none closed yet", va="center", fontsize=8, color="#64748b")
        paired_bars(right, rows, ("opened", "closed"), (GREY, GREEN), ("opened", "closed"))
        left.set_yticks(range(len(rows)), [r["issue_type"] for r in rows])
        left.invert_yaxis()
        left.set_title(f"time to close ({unit})")
        right.set_title("tickets opened vs closed (now)")
        counts(right.xaxis)
        return png(fig)


def moderation_backlog(rows: Rows) -> bytes:
    """Products with the most pending reviews: how many, and how old the oldest one is."""
    labels = [r["product_id"] for r in rows]
    ys = range(len(rows))
    with figure(0.32 * len(rows) + 1.4, 1, 2, sharey=True) as (fig, axes):
        left, right = axes[0, 0], axes[0, 1]
        left.barh(list(ys), [r["pending"] for r in rows], color=ORANGE)
        left.set_title("pending reviews")
        ages = [(r["pending_backlog_hours"] or 0) / 24 for r in rows]
        right.barh(list(ys), ages, color=RED, alpha=0.8)
        right.set_title("age of the oldest pending review (days)")
        left.set_yticks(list(ys), labels)
        left.invert_yaxis()
        counts(left.xaxis)
        for ax in (left, right):
            ax.grid(axis="y", visible=False)
        right.xaxis.set_major_formatter(thousands)
        return png(fig)
