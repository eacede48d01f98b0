"""One settings object for every part of the product.

Values come from the environment or from a `.env` file (see `.env.example`). Nothing else in the
code reads environment variables for configuration, so this file is the full list of knobs.
An unset `POSTGRES_URL` / `MONGO_URI` means "use the embedded services under LOCAL_DIR".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.errors import UserFacingError, mask_url

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")


class SettingsError(UserFacingError):
    """A setting (environment variable or .env entry) has a value the product cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    local_dir: Path = Field(
        Path(".local"),
        validation_alias="LOCAL_DIR",
        description="Where embedded services keep their data (pg/, mongo/, airflow/, report/).",
    )
    postgres_url: str | None = Field(
        None,
        validation_alias="POSTGRES_URL",
        description="The ETL's PostgreSQL login, the loader (postgresql://user:pass@host:5432/db): "
        "writes the tables and builds the marts. Unset: the embedded server's `etl_loader`.",
    )
    postgres_owner_url: str | None = Field(
        None,
        validation_alias="POSTGRES_OWNER_URL",
        description="The login owning the product's schemas: `migrate` runs as it (schema and "
        "grants). Unset: POSTGRES_URL when that is set, else the embedded `etl_owner`.",
    )
    mongo_uri: str | None = Field(
        None,
        validation_alias="MONGO_URI",
        description="mongodb:// or mongodb+srv:// URI. Unset: the embedded server.",
    )
    mongo_db: str = Field("raw", validation_alias="MONGO_DB", description="Mongo database name.")
    analyst_role: str = Field(
        "analyst",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        validation_alias="ANALYST_ROLE",
        description="The analysts' read-only PostgreSQL login; `migrate` grants it SELECT on "
        "shop, aviasales and dwh (never etl.*).",
    )

    batch_size: int = Field(
        10_000, ge=1, validation_alias="ETL_BATCH_SIZE", description="Documents per load batch."
    )
    lock_timeout: float = Field(
        60.0,
        ge=0,
        validation_alias="ETL_LOCK_TIMEOUT",
        description="Seconds a run waits for another run of the same asset before giving up.",
    )

    field_inventory: bool = Field(
        True,
        validation_alias="ETL_FIELD_INVENTORY",
        description="Keep the per-asset inventory of field paths and types on every load "
        "(schema drift); off only to measure its cost.",
    )
    partitions: int = Field(
        4,
        ge=1,
        le=1024,
        validation_alias="ETL_PARTITIONS",
        description="`_id` ranges a snapshot (first load, full refresh) of an asset declared "
        "`partitioned` is split into; `materialize --partitions` overrides it for any asset.",
    )
    workers: int = Field(
        2,
        ge=1,
        le=256,
        validation_alias="ETL_WORKERS",
        description="Local processes loading a snapshot's ranges (`materialize --workers`); in "
        "Airflow, the mapped range tasks of one asset allowed to run at once.",
    )
    reconcile_check: Literal["warning", "error", "off"] = Field(
        "warning",
        validation_alias="ETL_RECONCILE_CHECK",
        description="After each table asset in the DAG, compare MongoDB with PostgreSQL: "
        "'warning' logs differences, 'error' fails the check task, 'off' skips it.",
    )

    gx_dir: Path = Field(
        Path(__file__).resolve().parents[1] / "expectations",
        validation_alias="ETL_GX_DIR",
        description="The Great Expectations project (suites, checkpoints, data docs).",
    )
    gx_keep_results: int = Field(
        20,
        ge=1,
        validation_alias="ETL_GX_KEEP_RESULTS",
        description="Validation results kept per table when the data docs are built (newest).",
    )
    report_dir: Path | None = Field(
        None,
        validation_alias="ETL_REPORT_DIR",
        description="Where the analytics report is written (default: LOCAL_DIR/report).",
    )
    airflow_max_active_tasks: int = Field(
        8,
        ge=1,
        validation_alias="ETL_MAX_ACTIVE_TASKS",
        description="Tasks of one DAG run at once (8 suits 2 cores; raise it on bigger machines).",
    )
    airflow_schedule: str | None = Field(
        "@hourly",
        validation_alias="ETL_SCHEDULE",
        description="Schedule of the Airflow DAG (cron or preset); empty: manual runs only.",
    )

    aviasales_api_url: str | None = Field(
        None,
        validation_alias="AVIASALES_API_URL",
        description="Upstream Aviasales Data API base URL. Unset: the bundled simulator.",
    )
    aviasales_token: str | None = Field(
        None, validation_alias="AVIASALES_TOKEN", description="Travelpayouts API token."
    )
    aviasales_proxy_url: str | None = Field(
        None,
        validation_alias="AVIASALES_PROXY_URL",
        description="The logging proxy the collector calls. Unset: the proxy runs in-process.",
    )
    aviasales_routes: str = Field(
        "MOW,LED,KZN,SVX,OVB,AER<>DXB",
        validation_alias="AVIASALES_ROUTES",
        description="Routes to collect: 'A,B<>C' (both ways), 'A-C' (one way); ';' between.",
    )
    aviasales_window_days: int = Field(
        90, ge=1, le=365, validation_alias="AVIASALES_WINDOW_DAYS",
        description="Search departures up to this many days ahead (never in the past).",
    )  # fmt: skip
    aviasales_date_step_days: int = Field(
        3, ge=1, le=31, validation_alias="AVIASALES_DATE_STEP_DAYS",
        description="Search every Nth departure day (calendar-aligned, so each day recurs).",
    )  # fmt: skip
    aviasales_stay_days: int = Field(
        7, ge=0, le=60, validation_alias="AVIASALES_STAY_DAYS",
        description="Return this many days after departure; 0 searches one-way fares.",
    )  # fmt: skip
    aviasales_currency: str = Field(
        "rub", pattern="^[A-Za-z]{3}$", validation_alias="AVIASALES_CURRENCY",
        description="Currency of the prices asked for.",
    )  # fmt: skip
    aviasales_concurrency: int = Field(
        4, ge=1, le=64, validation_alias="AVIASALES_CONCURRENCY",
        description="Searches the collector keeps in flight at once.",
    )  # fmt: skip
    aviasales_timeout: float = Field(
        10.0, gt=0, validation_alias="AVIASALES_TIMEOUT",
        description="Seconds the proxy waits for one upstream answer.",
    )  # fmt: skip
    aviasales_retries: int = Field(
        3, ge=0, le=10, validation_alias="AVIASALES_RETRIES",
        description="Retries of a 429, 5xx, timeout or connection error.",
    )  # fmt: skip
    aviasales_max_wait: float = Field(
        30.0, ge=0, validation_alias="AVIASALES_MAX_WAIT",
        description="Longest wait before a retry; a longer Retry-After ends the call.",
    )  # fmt: skip

    @field_validator("postgres_url", "postgres_owner_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(POSTGRES_SCHEMES):
            raise ValueError(
                f"{mask_url(value)} is not a PostgreSQL URL "
                "(write postgresql://USER:PASSWORD@HOST:5432/DB, or leave it unset)"
            )
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(value)
            urlsplit(value).port  # noqa: B018  (raises for a port that is not a number)
        except Exception:  # psycopg's message quotes the URL, password included
            raise ValueError(f"{mask_url(value)} cannot be parsed as a PostgreSQL URL") from None
        return value

    @field_validator("mongo_uri")
    @classmethod
    def _mongo_uri(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(MONGO_SCHEMES):
            raise ValueError(f"{mask_url(value)} must start with mongodb:// or mongodb+srv://")
        return value

    @field_validator("aviasales_routes")
    @classmethod
    def _routes_parse(cls, value: str) -> str:
        parse_routes(value)
        return value

    @property
    def routes(self) -> list[tuple[str, str]]:
        """The Aviasales routes to collect, as (origin, destination) pairs."""
        return parse_routes(self.aviasales_routes)

    @property
    def embedded_pg_dir(self) -> Path:
        return self.local_dir / "pg"

    @property
    def embedded_mongo_dir(self) -> Path:
        return self.local_dir / "mongo"

    @property
    def secrets_dir(self) -> Path:
        """The embedded servers' generated passwords (etl.services.local_secrets)."""
        return self.local_dir / "secrets"

    @property
    def report_path(self) -> Path:
        return self.report_dir or self.local_dir / "report"


def parse_routes(spec: str) -> list[tuple[str, str]]:
    """'MOW,LED<>DXB; KZN-IST' → [(MOW, DXB), (DXB, MOW), (LED, DXB), (DXB, LED), (KZN, IST)]."""
    routes: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        both = "<>" in part
        left, sep, right = part.partition("<>" if both else "-")
        sides = (left, right)
        codes = [[c.strip().upper() for c in side.split(",") if c.strip()] for side in sides]
        if (
            not sep
            or not all(codes)
            or any(len(c) != 3 or not c.isalpha() for side in codes for c in side)
        ):
            raise ValueError(
                f"route {part!r}: write 'MOW,LED<>DXB' (both ways) or 'MOW-DXB' (one way)"
            )
        for a in codes[0]:
            for b in codes[1]:
                for pair in ((a, b), (b, a)) if both else ((a, b),):
                    if pair[0] != pair[1] and pair not in routes:
                        routes.append(pair)
    if not routes:
        raise ValueError("no routes given")
    return routes


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env.

    A bad value raises `SettingsError` naming the variable, never echoing a URL's password.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_invalid(exc)) from None


def describe_invalid(exc: ValidationError) -> str:
    """One line per bad setting, named by its environment variable, without its raw input."""
    aliases = {
        name: field.validation_alias
        for name, field in Settings.model_fields.items()
        if isinstance(field.validation_alias, str)
    }
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{aliases.get(field, field.upper())}: {message}")
    return "invalid setting " + "; ".join(problems)
