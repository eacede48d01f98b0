"""The generator's own settings: how the imitated outside world behaves.

Read from the environment or `.env`, like the product's settings (etl.settings), but owned here:
the warehouse knows nothing of the simulator it may be pointed at.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GeneratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    simulator_token: str | None = Field(
        None,
        validation_alias="AVIASALES_TOKEN",
        description="The token the simulator accepts besides its built-in one.",
    )
    simulator_seed: int = Field(
        42, validation_alias="AVIASALES_SIM_SEED", description="Simulator: seed of its prices."
    )
    simulator_rate_limit: float = Field(
        200.0, ge=0, validation_alias="AVIASALES_SIM_RATE_LIMIT",
        description="Simulator: requests per second before it answers 429 (0: no limit).",
    )  # fmt: skip
    simulator_error_rate: float = Field(
        0.01, ge=0, le=1, validation_alias="AVIASALES_SIM_ERROR_RATE",
        description="Simulator: share of requests answered with a 5xx.",
    )  # fmt: skip
    simulator_empty_rate: float = Field(
        0.02, ge=0, le=1, validation_alias="AVIASALES_SIM_EMPTY_RATE",
        description="Simulator: share of queries that find no offers.",
    )  # fmt: skip


@lru_cache(maxsize=1)
def generator_settings() -> GeneratorSettings:
    """The process-wide generator settings (tests call `cache_clear()` after changing env)."""
    return GeneratorSettings()
