"""docker-compose.yml: valid Compose, real files, official images, and settings the code reads.

No Docker engine exists where the tests run, so the file is checked statically: against the
Compose Specification's JSON schema (copied to tests/data, CI runs on a clean clone), and after
interpolating `.env.example` with dummy secrets, the way `docker compose` would.
"""

from __future__ import annotations

import json
import re
from itertools import takewhile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from etl.settings import Settings
from generator.settings import GeneratorSettings

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = re.compile(r"^(postgres|mongo|nginx|redis|apache/airflow):(?!latest$)[\w.\-]+$")
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
AIRFLOW_OWN = ("AIRFLOW__", "_AIRFLOW_", "DUMB_INIT_")  # Airflow's and its image's entrypoint
GENERATOR = ["python", "-m", "generator"]


def load() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def env_example(commented: bool = True) -> dict[str, str]:
    """Variables in .env.example with their values; `commented`: also the `# NAME=` examples."""
    text = (ROOT / ".env.example").read_text()
    pattern = r"^#?\s*([A-Z_][A-Z0-9_]*)=(.*)$" if commented else r"^([A-Z_][A-Z0-9_]*)=(.*)$"
    return dict(re.findall(pattern, text, flags=re.M))


def interpolated() -> dict[str, Any]:
    """The compose file as `docker compose` sees it with .env.example and dummy secrets."""
    values = {k: v or f"dummy-{k.lower()}" for k, v in env_example(commented=False).items()}

    def substitute(match: re.Match[str]) -> str:
        name, op, default = match.groups()
        if values.get(name):
            return values[name]
        assert op and "?" not in op, f"{name} is required but missing from .env.example"
        return default

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        if isinstance(node, str):
            return VARIABLE.sub(substitute, node).replace("$$", "$")
        return node

    return resolve(load())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load()


@pytest.fixture(scope="module")
def ours(compose: dict[str, Any]) -> dict[str, Any]:
    """Services that run the project image (they have a build section)."""
    return {n: s for n, s in compose["services"].items() if "build" in s}


def test_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    jsonschema.validate(compose, schema)
    jsonschema.validate(interpolated(), schema)


def test_build_contexts_files_and_images_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (context / (dockerfile or "Dockerfile")).exists(), name
        else:
            assert OFFICIAL.match(service["image"]), (name, service["image"])
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)  # a declared named volume


def test_the_dockerfile_builds_on_the_official_airflow_image() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    bases = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert bases and all(OFFICIAL.match(b) and b.startswith("apache/airflow:") for b in bases)
    for line in lines:
        if line.startswith("COPY "):
            sources = [p for p in line.split()[1:-1] if not p.startswith("--")]
            assert all((ROOT / s).exists() for s in sources), line


def test_services_pass_only_settings_the_code_reads(ours: dict[str, Any]) -> None:
    known = {f.validation_alias for f in Settings.model_fields.values()}
    known |= {f.validation_alias for f in GeneratorSettings.model_fields.values()}
    assert ours and {"POSTGRES_URL", "MONGO_URI", "MONGO_DB"} <= known
    for name, service in ours.items():
        for variable in service["environment"]:
            assert variable.startswith(AIRFLOW_OWN) or variable in known, (name, variable)


def test_the_urls_point_at_the_compose_services() -> None:
    services = interpolated()["services"]
    env = services["airflow-scheduler"]["environment"]
    warehouse = make_url(env["POSTGRES_URL"])
    assert (warehouse.host, warehouse.port, warehouse.database) == ("postgres", 5432, "warehouse")
    assert warehouse.password == "dummy-postgres_loader_password"
    metadata = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (metadata.host, metadata.database) == ("postgres", "airflow")
    init = (ROOT / "deploy/postgres-init.sh").read_text()
    assert "CREATE DATABASE airflow OWNER airflow" in init
    assert env["MONGO_URI"].startswith("mongodb://etl:dummy-mongo_etl_password@mongo:27017/")
    executor_api = env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert executor_api.startswith("http://airflow-api-server:8080/")
    assert env["AVIASALES_API_URL"] == "http://aviasales-simulator:8001"
    proxy = urlsplit(env["AVIASALES_PROXY_URL"])
    assert (proxy.hostname, proxy.port) == ("aviasales-proxy", 8002)
    command = services["aviasales-proxy"]["command"]
    assert command[command.index("--port") + 1] == "8002"
    assert "aviasales-proxy" in services["airflow-scheduler"]["depends_on"]
    # the DAG (run by the scheduler) writes the analytics report where nginx serves it from
    mounts = dict(v.split(":")[:2] for v in services["airflow-scheduler"]["volumes"])
    assert env["ETL_REPORT_DIR"].startswith(mounts["quality-reports"] + "/")
    assert services["quality-docs"]["volumes"][0].startswith("quality-reports:")


def test_start_order_is_gated_by_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, (name, target)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], (name, target)
            if rule["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", (name, target)
    long_running = [n for n, s in services.items() if s.get("restart") != "no"]
    assert all(services[n].get("restart") == "unless-stopped" for n in long_running)
    for name in ("postgres", "mongo", "airflow-api-server", "airflow-scheduler"):
        assert "healthcheck" in services[name], name
    init = services["airflow-init"]
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert "python -m etl migrate" in "\n".join(init["command"])


def test_every_interpolated_variable_is_in_env_example() -> None:
    used = {m[0] for m in VARIABLE.findall((ROOT / "docker-compose.yml").read_text())}
    assert used - set(env_example()) == set()


def test_no_secrets_are_committed() -> None:
    assert re.search(r"^\.env$", (ROOT / ".gitignore").read_text(), flags=re.M)
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
    secrets = {k: v for k, v in env_example().items() if re.search("PASSWORD|SECRET|KEY", k)}
    assert secrets and all(v == "" for v in secrets.values()), secrets
    for name, service in load()["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            secret = re.search("PASSWORD|SECRET|KEY", variable) or "@" in str(value)
            if secret and value:
                assert "${" in str(value), (name, variable)  # from .env, never a literal


CLI_SERVICES = [
    n for n, s in load()["services"].items() if (s.get("entrypoint") or [])[:3] == GENERATOR
]


@pytest.mark.parametrize("name", CLI_SERVICES)
def test_the_commands_it_runs_exist(compose: dict[str, Any], name: str) -> None:
    """Services that call `python -m generator ...`: the subcommand and options must exist."""
    from generator.cli import app

    service = compose["services"][name]
    args = service["entrypoint"][3:] + service["command"]
    path = list(takewhile(lambda a: not a.startswith("-"), args))  # the subcommand
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in (a for a in args if a.startswith("--")):
        assert option in result.output, option


def test_the_celery_profile_runs_workers_a_broker_and_a_triggerer() -> None:
    services = interpolated()["services"]
    celery = {n for n, s in services.items() if "celery" in (s.get("profiles") or [])}
    assert celery == {"redis", "airflow-worker", "airflow-triggerer"}
    assert all(not s.get("profiles") for n, s in services.items() if n not in celery)
    for name, service in services.items():  # every official image pinned to a version
        if "build" not in service:
            assert re.search(r":\d", service["image"]), (name, service["image"])
    worker = services["airflow-worker"]
    assert worker["command"] == "celery worker" and "build" in worker
    env = worker["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
    assert broker.password == "dummy-redis_password"
    assert "dummy-redis_password" in services["redis"]["command"]
    backend = make_url(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
    assert (backend.host, backend.database) == ("postgres", "airflow")
    assert services["airflow-worker"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # no replica count or container_name: `--scale airflow-worker=N` works
    assert "container_name" not in worker and "replicas" not in worker.get("deploy", {})
    # the scheduler switches to Celery when (and only when) the broker of the profile exists
    scheduler = services["airflow-scheduler"]
    script = scheduler["command"][-1]
    assert "getent hosts redis" in script and "AIRFLOW__CORE__EXECUTOR=CeleryExecutor" in script
    assert script.strip().endswith("exec airflow scheduler")
    assert scheduler["depends_on"]["redis"] == {"condition": "service_healthy", "required": False}
    assert scheduler["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_the_image_installs_with_airflows_constraints() -> None:
    text = (ROOT / "Dockerfile").read_text()
    install = text[text.index("pip install --no-cache-dir \\") :]
    install = install[: install.index("pip uninstall")]
    assert "--constraint" in install and "constraints-${AIRFLOW_VERSION}/constraints-" in install
    assert '"apache-airflow[fab,celery]==${AIRFLOW_VERSION}"' in install


def test_mongo_is_a_replica_set_and_a_service_streams_the_shop() -> None:
    """Change streams need a replica set: the server starts as one (initiated by its health
    check), every client names it, and `etl-stream` runs `python -m etl stream` on it."""
    from etl.cli import app

    services = interpolated()["services"]
    mongo = services["mongo"]
    assert "--replSet rs0" in " ".join(mongo["entrypoint"])
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])
    environments = {n: s.get("environment") for n, s in services.items()}
    uris = {n: e["MONGO_URI"] for n, e in environments.items() if e and "MONGO_URI" in e}
    assert uris and all("replicaSet=rs0" in uri for uri in uris.values()), uris
    stream = services["etl-stream"]
    assert stream["entrypoint"] == ["python", "-m", "etl"] and stream["command"][0] == "stream"
    assert stream["depends_on"]["mongo"]["condition"] == "service_healthy"
    result = CliRunner().invoke(app, [*stream["command"], "--help"], terminal_width=200)
    assert result.exit_code == 0 and "change streams" in result.output


def test_each_postgres_login_does_one_job_and_no_service_uses_the_superuser() -> None:
    """Airflow's metadata and Celery results use the "airflow" login (owner of its database
    only); the ETL everywhere uses the loader; only the init job has the owner's URL (it runs
    `etl migrate`); the superuser the image creates appears in no URL of any service (the
    postgres service's own init script and health check use it by name). The roles and the
    script are tried for real in tests/test_roles.py."""
    services = interpolated()["services"]
    env = services["airflow-scheduler"]["environment"]
    for variable in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        url = make_url(env[variable].removeprefix("db+"))
        assert (url.username, url.password) == ("airflow", "dummy-airflow_db_password"), variable
        assert url.database == "airflow"
    superuser = env_example(commented=False)["POSTGRES_USER"]
    owners = []
    for name, service in services.items():
        environment = service.get("environment") or {}
        for variable, value in environment.items():
            if isinstance(value, str) and "postgres" in value and "://" in value:
                assert f"//{superuser}:" not in value, (name, variable)
        if "POSTGRES_URL" in environment:
            url = make_url(environment["POSTGRES_URL"])
            assert url.username == "etl_loader", name
            assert url.password == "dummy-postgres_loader_password", name
        if "POSTGRES_OWNER_URL" in environment:
            owners.append(name)
            assert make_url(environment["POSTGRES_OWNER_URL"]).username == "etl_owner"
    assert owners == ["airflow-init"]
    assert "python -m etl migrate" in "".join(services["airflow-init"]["command"])
    script = (ROOT / "deploy/postgres-init.sh").read_text()
    for line in (
        "CREATE ROLE etl_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_pw';",
        "CREATE ROLE etl_loader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'loader_pw';",
        "REVOKE ALL ON DATABASE airflow FROM PUBLIC;",
    ):
        assert line in script
    postgres = services["postgres"]
    assert {"POSTGRES_OWNER_PASSWORD", "POSTGRES_LOADER_PASSWORD"} <= set(postgres["environment"])
    assert any(
        m.startswith("./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/")
        for m in postgres["volumes"]
    )


def test_each_component_has_its_own_mongodb_login_and_none_uses_root() -> None:
    """The ETL (Airflow's services, the stream) reads, the proxy inserts into its log, the
    generator reads and writes; root appears only in the mongo service itself (its init and
    health check), and the init script gives each login exactly that role."""
    services = interpolated()["services"]
    logins = {}
    for name, service in services.items():
        uri = (service.get("environment") or {}).get("MONGO_URI")
        if uri:
            logins[name] = urlsplit(uri).username
            assert "root" not in uri, name
    assert logins["generator"] == "generator" and logins["aviasales-proxy"] == "aviasales_proxy"
    assert {logins[n] for n in ("airflow-scheduler", "etl-stream", "airflow-init")} == {"etl"}
    script = (ROOT / "deploy/mongo-init.js").read_text()
    assert '{ role: "read", db: raw }' in script  # the ETL
    assert '{ role: "readWrite", db: raw }' in script  # the generator
    assert 'collection: "aviasales_requests" }, actions: ["insert", "createIndex"]' in script
    mongo = services["mongo"]
    assert any("mongo-init.js:/docker-entrypoint-initdb.d/" in v for v in mongo["volumes"])
    from ingest.aviasales.log import LOG_COLLECTION

    assert LOG_COLLECTION == "aviasales_requests"
