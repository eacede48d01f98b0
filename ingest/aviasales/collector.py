"""The collector: searches every configured route and departure day through the logging proxy.

A day's collection is a plan (routes x departure days, one return date each) run with bounded
concurrency. Departure days are calendar-aligned (every Nth day of the calendar, never in the
past), so the same flight day is searched again on later days: that is what makes "how does the
price move as departure approaches" answerable. The proxy logs every call; the collector only
counts what came back.

`backfill` searches "as of" each of the N days before today, one search per route and day per
simulated day; it skips searches already answered for that day, so an interrupted backfill
resumes where it stopped and running it twice changes nothing. Backfilling needs the simulator:
the real API only answers as of today, and the proxy refuses to pretend otherwise.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

import httpx

from etl.errors import ServiceUnavailable, UserFacingError, mask_url
from etl.services.mongo import mongo_client, read_collection
from etl.settings import Settings
from ingest.aviasales.log import LOG_COLLECTION
from ingest.aviasales.proxy import PATH, Upstream, create_proxy

Progress = Callable[[int, int], None]
"""(searches done, searches to do) — drives a progress bar."""


@dataclass(frozen=True, order=True)
class Search:
    origin: str
    destination: str
    departure: date
    returning: date | None

    def params(self, currency: str, search_date: date | None) -> dict[str, str]:
        params = {
            "origin": self.origin,
            "destination": self.destination,
            "departure_at": self.departure.isoformat(),
            "one_way": "true" if self.returning is None else "false",
            "currency": currency,
            "limit": "1000",
            "sorting": "price",
        }
        if self.returning is not None:
            params["return_at"] = self.returning.isoformat()
        if search_date is not None:
            params["search_date"] = search_date.isoformat()
        return params


@dataclass
class DayStats:
    """What one day's collection did."""

    search_date: date
    planned: int
    skipped: int = 0
    statuses: Counter[int | None] = field(default_factory=Counter)
    offers: int = 0

    @property
    def calls(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return self.statuses[200]

    @property
    def failed(self) -> int:
        return self.calls - self.ok


class BackfillUnsupported(UserFacingError):
    """The upstream ignored `search_date`: only the simulator can search as of an earlier day."""


def today() -> date:
    return datetime.now(UTC).date()


def plan(settings: Settings, search_date: date) -> list[Search]:
    """Every route and departure day in the window after `search_date`, one return date each."""
    step, window = settings.aviasales_date_step_days, settings.aviasales_window_days
    days = [
        day
        for day in (search_date + timedelta(days=k) for k in range(1, window + 1))
        if day.toordinal() % step == 0
    ]
    stay = settings.aviasales_stay_days
    return [
        Search(origin, destination, day, day + timedelta(days=stay) if stay else None)
        for origin, destination in settings.routes
        for day in days
    ]


def already_answered(db: Any, search_date: date) -> set[Search]:
    """Searches logged with a 200 for `search_date`: a resumed backfill does not repeat them."""
    found = set()
    for doc in read_collection(db, LOG_COLLECTION).find(
        {"search_date": search_date.isoformat(), "status_code": 200}, {"request": 1}
    ):
        request = doc.get("request") or {}
        try:
            departure = date.fromisoformat(request.get("departure_at") or "")
        except ValueError:
            continue
        back = request.get("return_at")
        returning = date.fromisoformat(back) if back and len(back) == 10 else None
        origin, destination = request.get("origin"), request.get("destination")
        if isinstance(origin, str) and isinstance(destination, str):
            found.add(Search(origin, destination, departure, returning))
    return found


FARE_API_GROUP = "mongo_assets.fare_api"


def simulator_upstream(settings: Settings) -> Upstream:
    """The bundled simulator, in-process: what an unset AVIASALES_API_URL means.

    It is found through the `mongo_assets.fare_api` entry point (declared by the generator in
    pyproject.toml), so this package never imports the generator.
    """
    found = entry_points(group=FARE_API_GROUP, name="simulator")
    if not found:
        raise UserFacingError(
            "AVIASALES_API_URL is not set and no bundled fare API simulator is installed "
            "(install the project, or set AVIASALES_API_URL and AVIASALES_TOKEN)"
        )
    app, token = next(iter(found)).load()()
    return _upstream(settings, "http://simulator", httpx.ASGITransport(app=app), token)


def configured_upstream(settings: Settings) -> Upstream:
    if not settings.aviasales_api_url:
        return simulator_upstream(settings)
    return _upstream(settings, settings.aviasales_api_url.rstrip("/"), None)


def _upstream(settings: Settings, url: str, transport: Any, token: str | None = None) -> Upstream:
    return Upstream(
        base_url=url,
        token=token or settings.aviasales_token or "",
        transport=transport,
        timeout_s=settings.aviasales_timeout,
        retries=settings.aviasales_retries,
        max_wait_s=settings.aviasales_max_wait,
    )


@asynccontextmanager
async def proxy_client(settings: Settings, db: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the proxy: AVIASALES_PROXY_URL, or the proxy in this process, which
    logs into `db`'s database as the proxy's own login (it may only insert there)."""
    if settings.aviasales_proxy_url:
        url = settings.aviasales_proxy_url.rstrip("/")
        timeout = settings.aviasales_timeout * (settings.aviasales_retries + 1) + 30
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
            try:
                (await client.get("/health")).raise_for_status()
            except httpx.HTTPError as exc:
                reason = f"cannot reach the proxy at {mask_url(url)}: {type(exc).__name__}"
                raise ServiceUnavailable(reason) from exc
            yield client
        return
    log = mongo_client(settings, login="aviasales_proxy").get_database(db.name)
    app = create_proxy(log, configured_upstream(settings))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://proxy", timeout=None
        ) as client:
            yield client
    finally:
        await app.state.forwarder.client.aclose()


async def run_searches(
    client: httpx.AsyncClient,
    settings: Settings,
    stats: DayStats,
    searches: list[Search],
    progress: Callable[[], None] | None = None,
) -> DayStats:
    """Run one day's `searches` through the proxy, AVIASALES_CONCURRENCY at a time."""
    gate = asyncio.Semaphore(settings.aviasales_concurrency)
    simulated = stats.search_date if stats.search_date != today() else None

    async def one(search: Search) -> None:
        params = search.params(settings.aviasales_currency, simulated)
        async with gate:
            response = await client.get(PATH, params=params)
        if response.status_code == 422 and "was ignored" in response.text:
            raise BackfillUnsupported(response.json()["error"])
        stats.statuses[response.status_code] += 1
        if response.status_code == 200:
            data = response.json().get("data")
            stats.offers += len(data) if isinstance(data, list) else 0
        if progress:
            progress()

    tasks = [asyncio.ensure_future(one(s)) for s in searches]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return stats


def collect_days(
    settings: Settings,
    db: Any,
    search_dates: list[date],
    *,
    resume: bool,
    progress: Progress | None = None,
) -> list[DayStats]:
    """Collect each day in turn; `resume` skips searches already answered for that day."""
    work = []
    for day in search_dates:
        searches = plan(settings, day)
        answered = already_answered(db, day) if resume else set()
        todo = [s for s in searches if s not in answered]
        work.append((DayStats(day, planned=len(searches), skipped=len(searches) - len(todo)), todo))
    total, done = sum(len(todo) for _, todo in work), 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    async def main() -> list[DayStats]:
        async with proxy_client(settings, db) as client:
            return [await run_searches(client, settings, st, todo, step) for st, todo in work]

    return asyncio.run(main())


def collect(
    settings: Settings, db: Any, search_date: date | None = None, progress: Progress | None = None
) -> DayStats:
    """Search every route and departure day once, as of `search_date` (default: today)."""
    return collect_days(settings, db, [search_date or today()], resume=False, progress=progress)[0]


def backfill(
    settings: Settings, db: Any, days: int, progress: Progress | None = None
) -> list[DayStats]:
    """One search per route and departure day as of each of the `days` days before today;
    searches already answered are skipped, so a backfill resumes and never duplicates."""
    end = today()
    dates = [end - timedelta(days=k) for k in range(days, 0, -1)]
    return collect_days(settings, db, dates, resume=True, progress=progress)
