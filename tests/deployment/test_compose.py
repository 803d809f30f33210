"""docker-compose.yaml and envs/: valid against the Compose specification, and wired so that
`docker compose up` works with no manual step (health-gated start order, env names the
processes read, a MongoDB replica set with a generated keyfile, Redis with an AOF)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
APP_SERVICES = {
    "orders": "orders.app:create_app",
    "delivery": "delivery.app:create_app",
    "notifications": "notifications.app:create_app",
    "actors": "simulator.actors.app:create_app",
}
ONE_SHOT = {"mongodb-keyfile", "refill-stock"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def read_env_file(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            entries[key.strip()] = value
    return entries


def service_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for file in compose["services"][name].get("env_file", []):
        env.update(read_env_file(REPO / file))
    return env


def test_compose_file_matches_the_compose_spec() -> None:
    pytest.importorskip("check_jsonschema")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_rejects_a_broken_file(tmp_path: Path) -> None:
    pytest.importorskip("check_jsonschema")
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text("services:\n  web:\n    image: nginx:1.27.3\n    depends_on: 3\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name


def test_start_order_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert condition["condition"] == expected, f"{name} -> {dependency}"
    for name in APP_SERVICES:
        assert set(services[name]["depends_on"]) >= {"mongodb", "redis"}, name


def test_app_services_run_their_factories(compose: dict[str, Any]) -> None:
    import importlib

    for name, factory in APP_SERVICES.items():
        command = compose["services"][name]["command"]
        assert command[:3] == ["uvicorn", "--factory", factory]
        module, _, attribute = factory.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute))


def test_refill_runs_a_real_cli_subcommand(compose: dict[str, Any]) -> None:
    from orders_saga_cli.main import _parser

    command = compose["services"]["refill-stock"]["command"]
    assert command[0] == "orders-saga"
    args = _parser().parse_args(command[1:])
    assert (args.command, args.to) == ("refill-stock", 100)


def test_env_files_exist_and_name_only_settings_the_processes_read(
    compose: dict[str, Any],
) -> None:
    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings
    from simulator.actors.settings import ActorSettings

    known = {f.upper() for f in ConnectionSettings.model_fields} | {
        f.upper() for f in Secrets.model_fields
    }
    for name in APP_SERVICES:
        env = service_env(compose, name)
        assert {"REDIS_URL", "MONGO_URL", "MONGO_DB", "OPERATOR_API_KEY", "TRACKING_SECRET"} <= set(
            env
        )
        allowed = known | (
            {f.upper() for f in ActorSettings.model_fields} if name == "actors" else set()
        )
        assert set(env) <= allowed, f"{name}: {set(env) - allowed}"


def test_env_values_parse_as_the_services_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings
    from simulator.actors.settings import ActorSettings

    for key, value in service_env(compose, "actors").items():
        monkeypatch.setenv(key, value)
    connections = ConnectionSettings()
    Secrets()  # type: ignore[call-arg]
    ActorSettings()
    assert urlsplit(connections.redis_url).hostname == "redis"
    assert urlsplit(connections.mongo_url).hostname == "mongodb"


def test_mongodb_is_a_replica_set_with_a_generated_keyfile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mongodb = services["mongodb"]
    command = mongodb["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    keyfile = command[command.index("--keyFile") + 1]
    generator = " ".join(services["mongodb-keyfile"]["command"])
    assert keyfile in generator and "test -s" in generator and "0400" in generator
    shared = {v.split(":")[0] for v in mongodb["volumes"]} & {
        v.split(":")[0] for v in services["mongodb-keyfile"]["volumes"]
    }
    assert shared, "the keyfile volume is not shared"
    health = " ".join(mongodb["healthcheck"]["test"])
    assert "rs.initiate" in health and "isWritablePrimary" in health
    # the apps' connection string reaches this replica set with the root user it creates
    root = read_env_file(REPO / "envs" / "mongodb.env")
    url = urlsplit(service_env(compose, "orders")["MONGO_URL"])
    assert (url.username, url.password) == (
        root["MONGO_INITDB_ROOT_USERNAME"],
        root["MONGO_INITDB_ROOT_PASSWORD"],
    )
    assert "replicaSet=rs0" in url.query
    assert f"host: '{url.hostname}:{url.port}'" in health


def test_redis_appends_to_a_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    data_dir = command[command.index("--dir") + 1]
    assert any(v.endswith(f":{data_dir}") for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose["volumes"]


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, name
        tag = image.rpartition(":")[2]
        assert tag and tag != "latest" and "/" not in tag, f"{name}: {image}"


def gateway_routes() -> dict[str, str]:
    conf = (REPO / "deploy" / "gateway.conf").read_text()
    return dict(re.findall(r"location (/\S+)\s+\{ proxy_pass http://(\w+); \}", conf))


def test_gateway_sends_each_path_to_its_service(compose: dict[str, Any]) -> None:
    routes = gateway_routes()
    assert routes == {
        "/api/menu": "orders",
        "/api/orders": "orders",
        "/api/stock": "orders",
        "/api/deliveries": "delivery",
        "/api/couriers": "delivery",
        "/api/tracking": "notifications",
        "/ws/tracking": "notifications",
        "/api/ops": "notifications",
        "/ws/ops": "notifications",
    }
    conf = (REPO / "deploy" / "gateway.conf").read_text()
    for upstream in set(routes.values()):
        assert f"server {upstream}:8000;" in conf
        assert upstream in compose["services"]["gateway"]["depends_on"]
    mount = compose["services"]["gateway"]["volumes"][0]
    assert mount.startswith("./deploy/gateway.conf:")


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    if "is not a docker command" in result.stderr or "unknown shorthand flag" in result.stderr:
        pytest.skip("docker compose plugin not installed")
    assert result.returncode == 0, result.stderr
