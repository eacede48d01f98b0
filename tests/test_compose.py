"""docker-compose.yml: valid Compose, real build contexts, and settings the code actually reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from etl.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = re.compile(r"^(postgres|mongo|apache/airflow):[\w.\-]+$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    jsonschema.validate(compose, schema)


def test_build_contexts_and_images_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            context = ROOT / (
                service["build"]
                if isinstance(service["build"], str)
                else service["build"].get("context", ".")
            )
            assert (context / "Dockerfile").exists(), name
        else:
            assert OFFICIAL.match(service["image"]), (name, service["image"])
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
    base = (ROOT / "Dockerfile").read_text().splitlines()[2]
    assert OFFICIAL.match(base.split()[1]), base


def test_services_pass_only_settings_the_code_reads(compose: dict[str, Any]) -> None:
    known = {f.validation_alias for f in Settings.model_fields.values()}
    ours = [s for s in compose["services"].values() if "build" in s]
    assert ours
    for service in ours:
        for variable in service["environment"]:
            assert variable.startswith("AIRFLOW__") or variable in known, variable


def test_every_interpolated_variable_is_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, flags=re.M))
    assert used - documented == set()


def test_no_secrets_are_committed() -> None:
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
