"""One settings object for every part of the product.

Values come from the environment or from a `.env` file (see `.env.example`). Nothing else in the
code reads environment variables for configuration, so this file is the full list of knobs.
An unset `POSTGRES_URL` / `MONGO_URI` means "use the embedded services under LOCAL_DIR".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        description="PostgreSQL URL (postgresql://user:pass@host:5432/db). Unset: embedded server.",
    )
    mongo_uri: str | None = Field(
        None,
        validation_alias="MONGO_URI",
        description="mongodb:// or mongodb+srv:// for a server; montydb://PATH or unset: montydb.",
    )
    mongo_db: str = Field("raw", validation_alias="MONGO_DB", description="Mongo database name.")

    batch_size: int = Field(
        5000, ge=1, validation_alias="ETL_BATCH_SIZE", description="Documents per load batch."
    )
    lock_timeout: float = Field(
        60.0,
        ge=0,
        validation_alias="ETL_LOCK_TIMEOUT",
        description="Seconds a run waits for another run of the same asset before giving up.",
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

    @property
    def embedded_pg_dir(self) -> Path:
        return self.local_dir / "pg"

    @property
    def embedded_mongo_dir(self) -> Path:
        return self.local_dir / "mongo"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
