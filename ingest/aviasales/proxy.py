"""The logging proxy: validates fare searches, forwards them upstream, logs every call in MongoDB.

`GET /aviasales/v3/prices_for_dates` takes the Data API's parameters (plus `search_date`, which
only the simulator honours), refuses bad ones with a 422 that says which, and forwards the rest
to the upstream (the real API with `AVIASALES_API_URL` + `AVIASALES_TOKEN`, else the simulator).
It retries a 429 after the Retry-After the upstream asks for (up to `AVIASALES_MAX_WAIT`) and a
5xx, timeout or connection error with exponential backoff, up to `AVIASALES_RETRIES` times.

Every call, refused or failed ones too, becomes one document in `LOG_COLLECTION` (see `log.py`)
with the upstream's body unchanged. The token goes upstream in the `X-Access-Token` header only:
it is never in the logged URL, the logged parameters or the application logs.

The log is written with pymongo's synchronous API: one short insert per call on the event
loop, which bounds a single proxy process to a few hundred calls a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator, model_validator

from ingest.aviasales.log import (
    LOG_COLLECTION,
    body_fields,
    ensure_indexes,
    searched_at,
    utc_now,
)

PATH = "/aviasales/v3/prices_for_dates"
"""The Data API endpoint the proxy serves and forwards to (the same path as the real API)."""

DAY_OR_MONTH = r"^\d{4}-\d{2}(-\d{2})?$"
logger = logging.getLogger(__name__)


class FareSearch(BaseModel):
    """The Data API's `prices_for_dates` parameters, checked before anything goes upstream."""

    model_config = {"extra": "ignore"}

    origin: str = Field(pattern="^[A-Za-z]{3}$", description="IATA city or airport code")
    destination: str | None = Field(None, pattern="^[A-Za-z]{3}$")
    departure_at: str | None = Field(None, pattern=DAY_OR_MONTH, description="YYYY-MM[-DD]")
    return_at: str | None = Field(None, pattern=DAY_OR_MONTH, description="YYYY-MM[-DD]")
    one_way: bool = True
    direct: bool = False
    currency: str = Field("rub", pattern="^[A-Za-z]{3}$")
    market: str = Field("ru", pattern="^[A-Za-z]{2}$")
    limit: int = Field(30, ge=1, le=1000)
    page: int = Field(1, ge=1)
    sorting: Literal["price", "route"] = "price"
    unique: bool = False
    search_date: date | None = Field(
        None, description="Simulator only: search as of this earlier day (to backfill history)."
    )

    @field_validator("origin", "destination", "currency")
    @classmethod
    def upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @field_validator("departure_at", "return_at")
    @classmethod
    def real_day(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                date.fromisoformat(value if len(value) == 10 else f"{value}-01")
            except ValueError:
                raise ValueError(f"{value} is not a calendar date") from None
        return value

    @field_validator("search_date")
    @classmethod
    def not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError(f"{value} is in the future: a search cannot be made from there")
        return value

    @model_validator(mode="after")
    def return_after_departure(self) -> FareSearch:
        out, back = self.departure_at, self.return_at
        if out and back and len(out) == len(back) and back < out:
            raise ValueError(f"return_at {back} is before departure_at {out}")
        return self

    def upstream_params(self) -> dict[str, str]:
        """Query parameters for the upstream, in the API's spelling (no token)."""
        values = self.model_dump(exclude_none=True, exclude={"search_date"})
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
        params["currency"] = params["currency"].lower()
        if self.search_date is not None:
            params["search_date"] = self.search_date.isoformat()
        return params


@dataclass(frozen=True)
class Upstream:
    """Where the proxy forwards to, and how patiently."""

    base_url: str
    token: str
    transport: httpx.AsyncBaseTransport | None = None
    """An in-process ASGI transport for the bundled simulator; None for real HTTP."""
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5
    max_wait_s: float = 30.0


@dataclass
class Outcome:
    response: httpx.Response | None
    attempts: int
    error: str | None


class Forwarder:
    """Sends one search upstream with retries; owns the HTTP client (one per proxy app)."""

    def __init__(self, upstream: Upstream, sleep: Callable[[float], Any] = asyncio.sleep):
        self.upstream = upstream
        self.sleep = sleep
        self.client = httpx.AsyncClient(
            base_url=upstream.base_url,
            transport=upstream.transport,
            timeout=upstream.timeout_s,
        )

    def url(self, params: dict[str, str]) -> str:
        return f"{self.upstream.base_url}{PATH}?{urlencode(params)}"

    async def send(self, params: dict[str, str]) -> Outcome:
        up = self.upstream
        headers = {"X-Access-Token": up.token, "Accept": "application/json"}
        problem = "no attempt made"
        for attempt in range(1, up.retries + 2):
            wait = up.backoff_s * 2 ** (attempt - 1)
            response = None
            try:
                response = await self.client.get(PATH, params=params, headers=headers)
            except httpx.TimeoutException:
                problem = f"upstream timed out after {up.timeout_s:g} s"
            except httpx.TransportError as exc:
                problem = f"cannot reach the upstream: {type(exc).__name__}"
            else:
                if response.status_code == 429:
                    problem = "429 Too Many Requests"
                    asked = retry_after(response.headers.get("Retry-After"))
                    if asked is not None and asked > up.max_wait_s:
                        limit = f"AVIASALES_MAX_WAIT {up.max_wait_s:g} s"
                        return Outcome(
                            response, attempt, f"{problem}: Retry-After {asked:g} s > {limit}"
                        )
                    wait = asked if asked is not None else wait
                elif response.status_code >= 500:
                    problem = f"upstream answered {response.status_code}"
                else:
                    return Outcome(response, attempt, None)
            if attempt <= up.retries:
                await self.sleep(min(wait, up.max_wait_s))
        return Outcome(response, up.retries + 1, f"{problem} after {up.retries + 1} attempts")


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_of(response: httpx.Response | None, error: str | None) -> str | None:
    if error or response is None or response.status_code == 200:
        return error
    detail = ""
    try:
        body = response.json()
        detail = f": {body.get('error') or body.get('message')}" if isinstance(body, dict) else ""
    except ValueError:
        pass
    return f"upstream answered {response.status_code}{detail}"


class StartClock:
    """Pure ASGI middleware: notes when a call arrived (also for calls refused with 422)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})["started"] = time.perf_counter()
        await self.app(scope, receive, send)


def create_proxy(
    db: Any, upstream: Upstream, *, sleep: Callable[[float], Any] | None = None
) -> FastAPI:
    """The proxy as an ASGI app, logging into `db` (a pymongo database)."""
    forwarder = Forwarder(upstream, sleep or asyncio.sleep)
    log = db[LOG_COLLECTION]
    ensure_indexes(db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await forwarder.client.aclose()

    app = FastAPI(
        title="Aviasales logging proxy",
        description=__doc__,
        version="1",
        lifespan=lifespan,
    )
    app.state.forwarder = forwarder
    app.add_middleware(StartClock)

    def write(record: dict[str, Any], started: float) -> Any:
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        record["updated_at"] = utc_now()  # set right before the insert: the loader's cursor
        request_id = log.insert_one(record).inserted_id
        route = record.get("request") or {}
        logger.info(  # the access log line: no query string, so no client-sent token either
            "search %s %s-%s: %s after %d attempt(s) in %.0f ms%s",
            request_id, route.get("origin", "?"), route.get("destination", "?"),
            record["status_code"], record["attempts"], record["latency_ms"],
            f" ({record['error']})" if record.get("error") else "",
        )  # fmt: skip
        return request_id

    def base_record(request: Request, requested_at: datetime) -> dict[str, Any]:
        query = {k: v for k, v in request.query_params.items() if k.lower() != "token"}
        return {"endpoint": request.url.path, "query": query, "requested_at": requested_at}

    @app.exception_handler(RequestValidationError)
    async def refused(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
        if request.url.path == PATH:
            requested_at = utc_now()
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'query'}: {e['msg']}" for e in detail
            )
            record = base_record(request, requested_at) | {
                "search_date": requested_at.date().isoformat(),
                "searched_at": requested_at,
                "upstream_url": None,
                "status_code": 422,
                "attempts": 0,
                "response": None,
                "error": f"refused by the proxy: {reasons}",
            }
            write(record, request.state.started)
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "upstream": upstream.base_url}

    @app.get(PATH)
    async def prices_for_dates(
        request: Request, search: Annotated[FareSearch, Query()]
    ) -> Response:
        """Search fares through the proxy; the call and the raw answer are logged."""
        started, requested_at = request.state.started, utc_now()
        params = search.upstream_params()
        outcome = await forwarder.send(params)
        response, error = outcome.response, _error_of(outcome.response, outcome.error)
        search_day = search.search_date or requested_at.date()
        ignored = (
            search.search_date is not None
            and response is not None
            and response.status_code == 200
            and response.headers.get("X-Search-Date") != search.search_date.isoformat()
        )
        if ignored:
            search_day = requested_at.date()  # the data is today's, whatever was asked
            error = (
                f"search_date {search.search_date} was ignored: the upstream is not the simulator "
                "and the real API only answers as of today (backfilling needs the simulator)"
            )
        record = base_record(request, requested_at) | {
            "request": search.model_dump(mode="json", exclude={"search_date"}),
            "search_date": search_day.isoformat(),
            "searched_at": searched_at(requested_at, search_day),
            "upstream_url": forwarder.url(params),
            "status_code": response.status_code if response is not None else None,
            "attempts": outcome.attempts,
            **(body_fields(response.content) if response is not None else {"response": None}),
            "error": error,
        }
        request_id = str(write(record, started))
        headers = {"X-Request-Id": request_id}
        if ignored:
            return JSONResponse({"success": False, "error": error}, 422, headers=headers)
        if response is None:
            status = 504 if "timed out" in (error or "") else 502
            return JSONResponse({"success": False, "error": error}, status, headers=headers)
        return Response(
            response.content,
            status_code=response.status_code,
            media_type=response.headers.get("content-type"),
            headers=headers,
        )

    return app
