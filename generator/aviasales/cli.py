"""`python -m generator aviasales ...`: the simulator, the logging proxy and the collector."""

from __future__ import annotations

import calendar
import logging
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.cli.errors import FriendlyGroup, help_when_bare
from etl.settings import get_settings

console = Console()
app = typer.Typer(
    cls=FriendlyGroup,
    help=(
        "Air-fare searches Russia <-> Dubai: the Data API simulator, the logging proxy and the "
        "collector that searches through it.\n\n"
        "Without AVIASALES_API_URL the proxy forwards to the bundled simulator; without "
        "AVIASALES_PROXY_URL the collector runs the proxy in-process. Every search is logged in "
        "MongoDB (collection aviasales_requests), failures included."
    ),
    invoke_without_command=True,
    callback=help_when_bare,
    add_completion=False,
    rich_markup_mode="rich",
)

Host = Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in a container).")]


@app.command()
def simulator(host: Host = "127.0.0.1", port: Annotated[int, typer.Option()] = 8001) -> None:
    """Serve the Data API simulator (GET /aviasales/v3/prices_for_dates, docs at /docs).

    Failures are configured by AVIASALES_SIM_RATE_LIMIT, AVIASALES_SIM_ERROR_RATE and
    AVIASALES_SIM_EMPTY_RATE; it accepts AVIASALES_TOKEN (or the built-in simulator token).
    """
    import uvicorn

    from generator.aviasales.simulator import create_simulator, simulator_config

    uvicorn.run(create_simulator(simulator_config()), host=host, port=port)


@app.command()
def serve(host: Host = "127.0.0.1", port: Annotated[int, typer.Option()] = 8002) -> None:
    """Serve the logging proxy (same endpoint as the API, /health, docs at /docs)."""
    import uvicorn

    from etl.services.mongo import mongo_database
    from ingest.aviasales.collector import configured_upstream
    from ingest.aviasales.proxy import create_proxy

    settings = get_settings()
    log = mongo_database(settings, login="aviasales_proxy")  # it only inserts into its log
    app_ = create_proxy(log, configured_upstream(settings))
    # uvicorn's access log prints query strings, where a client may have put a token: the
    # proxy logs one line per call itself instead
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    uvicorn.run(app_, host=host, port=port, access_log=False)


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("searches"),
        TimeElapsedColumn(),
        console=console,
    )


def _report(days: list, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for header in ("search date", "planned", "skipped", "calls", "answered", "failed", "offers"):
        table.add_column(header, justify="left" if header == "search date" else "right")
    for d in days:
        failed = f"[red]{d.failed}[/]" if d.failed else "0"
        table.add_row(
            d.search_date.isoformat(),
            f"{d.planned:,}",
            f"{d.skipped:,}",
            f"{d.calls:,}",
            f"{d.ok:,}",
            failed,
            f"{d.offers:,}",
        )
    console.print(table)


@app.command()
def collect(
    search_date: Annotated[
        str | None,
        typer.Option(help="Search as of this day (YYYY-MM-DD, not in the future; simulator only)."),
    ] = None,
) -> None:
    """Search every route (AVIASALES_ROUTES) and departure day once, through the proxy.

    Departure days: every AVIASALES_DATE_STEP_DAYS-th calendar day within
    AVIASALES_WINDOW_DAYS after the search day; return AVIASALES_STAY_DAYS later (0: one way).
    """
    from etl.services.mongo import mongo_database
    from ingest.aviasales.collector import collect as run
    from ingest.aviasales.collector import today

    day = _parse_day(search_date) if search_date else today()
    settings = get_settings()
    with _bar() as bar:
        task = bar.add_task(day.isoformat(), total=None)
        stats = run(
            settings,
            mongo_database(settings),
            day,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _report([stats], f"{stats.calls:,} searches logged")


@app.command()
def backfill(
    days: Annotated[
        int, typer.Option(min=1, max=365, help="How many days before today to search as of.")
    ] = 14,
) -> None:
    """Build a price history: search as of each of the N days before today (simulator only).

    One search per route and departure day per simulated day. Searches already answered for a
    day are skipped, so an interrupted backfill resumes and a repeated one changes nothing.
    """
    from etl.services.mongo import mongo_database
    from ingest.aviasales.collector import backfill as run

    settings = get_settings()
    with _bar() as bar:
        task = bar.add_task(f"{days} days", total=None)
        stats = run(
            settings,
            mongo_database(settings),
            days,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    _report(stats, f"backfilled {len(stats)} days: {sum(d.calls for d in stats):,} searches")


@app.command()
def model() -> None:
    """Print the simulator's price model: the truth the booking-window mart should find."""
    from generator.aviasales import prices

    console.print(prices.__doc__ or "")
    curve = Table(title="booking curve: factor by days before departure", title_justify="left")
    curve.add_column("days before", justify="right")
    curve.add_column("factor", justify="right")
    for days_before in (1, 3, 7, 14, 21, 30, 38, 45, 52, 60, 75, 90, 120, 180):
        factor = prices.booking_factor(days_before)
        low, high = prices.CHEAPEST_WINDOW
        mark = "  <- cheapest window" if low <= days_before <= high else ""
        curve.add_row(str(days_before), f"{factor:.3f}{mark}")
    console.print(curve)
    season = Table(title="season: factor by departure month (mid-month)", title_justify="left")
    season.add_column("month")
    season.add_column("factor", justify="right")
    for month, factor in zip(calendar.month_abbr[1:], prices.SEASON, strict=True):
        season.add_row(month, f"{factor:.2f}")
    console.print(season)
    console.print(f"New Year peak (25 Dec - 8 Jan): x{prices.NEW_YEAR_PEAK}")


def _parse_day(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
    from ingest.aviasales.collector import today

    if day > today():
        raise typer.BadParameter(f"{value} is in the future: a search cannot be made from there")
    return day
