"""docker-compose.yaml and envs/: valid against the Compose specification, and wired so that
`docker compose up` works with no manual step (health-gated start order, env names the
processes read, every secret generated on the first start and none committed, a MongoDB replica
set, Redis with an AOF)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .nginx_harness import FRONTEND_TEMPLATE, image_env
from .routes import ROUTES

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
ENVS = REPO / "envs"
GENERATOR = REPO / "deploy" / "compose-secrets.sh"
SECRETS_MOUNT = "/run/orders-saga"
APP_SERVICES = {
    "orders": "orders.app:create_app",
    "delivery": "delivery.app:create_app",
    "notifications": "notifications.app:create_app",
    "actors": "simulator.actors.app:create_app",
}
ONE_SHOT = {"secrets", "refill-stock"}
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|PASSWD|AUTH", re.IGNORECASE)
URL_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^@\s/]+@", re.IGNORECASE)


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


def run_generator(secrets_dir: Path) -> list[str]:
    """Runs deploy/compose-secrets.sh into secrets_dir as the `secrets` service would (its
    env_file, a recording `chown` so it works without root); returns the chown calls."""
    bin_dir = secrets_dir.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    chown_log = secrets_dir.parent / "chown.log"
    stub = bin_dir / "chown"
    stub.write_text('#!/bin/sh\necho "$@" >> "$CHOWN_LOG"\n')
    stub.chmod(0o755)
    chown_log.write_text("")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SECRETS_DIR": str(secrets_dir),
        "CHOWN_LOG": str(chown_log),
        **read_env_file(ENVS / "mongodb.env"),
    }
    subprocess.run(["sh", str(GENERATOR)], env=env, check=True, capture_output=True)
    return chown_log.read_text().splitlines()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secrets_dir = tmp_path_factory.mktemp("compose") / "secrets"
    run_generator(secrets_dir)
    return secrets_dir


def source_env_file(path: Path) -> dict[str, str]:
    """What `set -a && . path` exports, evaluated by sh as the app entrypoint does."""

    def exported(script: str) -> dict[str, str]:
        out = subprocess.run(
            ["sh", "-c", script, "sh", str(path)],
            env={"PATH": os.environ["PATH"]},
            check=True,
            capture_output=True,
        ).stdout.decode()
        return dict(entry.split("=", 1) for entry in out.split("\0") if entry)

    before = exported("env -0")
    after = exported('set -a && . "$1" && env -0')
    return {k: v for k, v in after.items() if before.get(k) != v}


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Named-volume and bind mounts: source -> (target, mode)."""
    result: dict[str, tuple[str, str]] = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        result[source] = (target, mode[0] if mode else "rw")
    return result


def generated_dir(compose: dict[str, Any], volume: str, generated: Path) -> Path:
    """Where in `generated` the generator writes the named volume `volume`."""
    target, _ = mounts(compose["services"]["secrets"])[volume]
    return generated / Path(target).relative_to("/secrets")


def service_env(compose: dict[str, Any], name: str, generated: Path) -> dict[str, str]:
    """The environment the service's process sees: its env_files, then the generated app.env
    its entrypoint sources."""
    service = compose["services"][name]
    env: dict[str, str] = {}
    for file in service.get("env_file", []):
        env.update(read_env_file(REPO / file))
    entrypoint = " ".join(service.get("entrypoint", []))
    sourced = re.search(r"\. (/\S+)", entrypoint)
    if sourced:
        env_file = Path(sourced.group(1))
        volume = next(
            source
            for source, (target, _) in mounts(service).items()
            if env_file.is_relative_to(target)
        )
        target = mounts(service)[volume][0]
        env.update(
            source_env_file(
                generated_dir(compose, volume, generated) / env_file.relative_to(target)
            )
        )
    return env


def committed_secrets(path: Path) -> list[str]:
    """Secret values written in an env file or a compose file (references to generated files,
    `*_FILE=/run/orders-saga/...`, are not values)."""

    def secret_value(name: str, value: str) -> bool:
        if not SECRET_NAME.search(name) or not value.strip():
            return False
        return not (name.endswith("_FILE") and value.startswith(f"{SECRETS_MOUNT}/"))

    text = path.read_text()
    found = [f"{path.name}: URL with credentials" for _ in URL_WITH_CREDENTIALS.finditer(text)]
    found += [
        f"{path.name}: literal requirepass"
        for _ in re.finditer(r"requirepass[\s\"',]+(?![$\"'])\S", text)
    ]
    if path.suffix == ".env":
        entries = read_env_file(path)
    else:
        entries = {}
        for service in (yaml.safe_load(text) or {}).get("services", {}).values():
            environment = service.get("environment", {})
            if isinstance(environment, list):
                environment = dict(item.partition("=")[::2] for item in environment)
            entries.update({k: str(v) for k, v in environment.items() if v is not None})
    found += [
        f"{path.name}: {name}" for name, value in entries.items() if secret_value(name, value)
    ]
    return found


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
    compose: dict[str, Any], generated: Path
) -> None:
    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings
    from simulator.actors.settings import ActorSettings

    known = {f.upper() for f in ConnectionSettings.model_fields} | {
        f.upper() for f in Secrets.model_fields
    }
    for name in APP_SERVICES:
        env = service_env(compose, name, generated)
        assert {"REDIS_URL", "MONGO_URL", "MONGO_DB", "OPERATOR_API_KEY", "TRACKING_SECRET"} <= set(
            env
        )
        allowed = known | (
            {f.upper() for f in ActorSettings.model_fields} if name == "actors" else set()
        )
        assert set(env) <= allowed, f"{name}: {set(env) - allowed}"


def test_env_values_parse_as_the_services_settings(
    compose: dict[str, Any], generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from saga_contracts.secrets import Secrets
    from sagakit.settings import ConnectionSettings
    from simulator.actors.settings import ActorSettings

    for key, value in service_env(compose, "actors", generated).items():
        monkeypatch.setenv(key, value)
    connections = ConnectionSettings()
    Secrets()  # type: ignore[call-arg]
    ActorSettings()
    assert urlsplit(connections.redis_url).hostname == "redis"
    assert urlsplit(connections.mongo_url).hostname == "mongodb"


def test_mongodb_is_a_replica_set_with_generated_keyfile_and_password(
    compose: dict[str, Any], generated: Path
) -> None:
    services = compose["services"]
    mongodb = services["mongodb"]
    command = mongodb["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    target, mode = mounts(mongodb)["mongodb-secrets"]
    assert mode == "ro"
    mongo_dir = generated_dir(compose, "mongodb-secrets", generated)
    keyfile = Path(command[command.index("--keyFile") + 1])
    assert len((mongo_dir / keyfile.relative_to(target)).read_text()) >= 6 * 100
    health = " ".join(mongodb["healthcheck"]["test"])
    assert "rs.initiate" in health and "isWritablePrimary" in health
    assert '$$(cat "$$MONGO_INITDB_ROOT_PASSWORD_FILE")' in health
    # the apps' connection string reaches this replica set with the root user the image creates
    root = read_env_file(ENVS / "mongodb.env")
    password_file = Path(root["MONGO_INITDB_ROOT_PASSWORD_FILE"])
    root_password = (mongo_dir / password_file.relative_to(target)).read_text()
    url = urlsplit(service_env(compose, "orders", generated)["MONGO_URL"])
    assert (url.username, url.password) == (root["MONGO_INITDB_ROOT_USERNAME"], root_password)
    assert len(root_password) >= 32
    assert "replicaSet=rs0" in url.query and "authSource=admin" in url.query
    assert f"host: '{url.hostname}:{url.port}'" in health


def test_redis_appends_to_a_volume_behind_the_generated_password(
    compose: dict[str, Any], generated: Path
) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    data_dir = command[command.index("--dir") + 1]
    assert any(v.endswith(f":{data_dir}") for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose["volumes"]
    # redis-server's first argument is the generated config, which sets the URL's password
    target, mode = mounts(redis)["redis-secrets"]
    assert mode == "ro"
    redis_dir = generated_dir(compose, "redis-secrets", generated)
    config = (redis_dir / Path(command[1]).relative_to(target)).read_text()
    password = urlsplit(service_env(compose, "orders", generated)["REDIS_URL"]).password
    assert password and len(password) >= 32
    assert config == f"requirepass {password}\n"
    health = " ".join(redis["healthcheck"]["test"])
    assert f'REDISCLI_AUTH="$$(cat {target}/password)"' in health
    assert (redis_dir / "password").read_text() == password


def test_generator_writes_each_secret_once_for_its_reader_only(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    chowns = run_generator(secrets_dir)
    first = {p: p.read_text() for p in secrets_dir.rglob("*") if p.is_file()}
    assert {p.relative_to(secrets_dir).as_posix() for p in first} == {
        "mongodb/mongodb-keyfile",
        "mongodb/root_password",
        "redis/password",
        "redis/redis.conf",
        "app/operator_api_key",
        "app/tracking_secret",
        "app/app.env",
    }
    for path in first:
        assert stat.S_IMODE(path.stat().st_mode) == 0o400, path
        owner = "10001:10001" if path.parent.name == "app" else "999:999"
        assert f"{owner} {path}.tmp" in chowns, path
    assert {
        f"999:999 {secrets_dir}/mongodb {secrets_dir}/redis",
        f"10001:10001 {secrets_dir}/app",
    } <= set(chowns)
    run_generator(secrets_dir)
    assert {p: p.read_text() for p in first} == first, "a later start changed a secret"
    other = tmp_path / "other"
    run_generator(other)
    assert (other / "app" / "app.env").read_text() != first[secrets_dir / "app" / "app.env"]


def test_each_reader_mounts_only_its_secrets_read_only_after_they_exist(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    generator_volumes = {
        v
        for v, (target, _) in mounts(services["secrets"]).items()
        if target.startswith("/secrets/")
    }
    assert generator_volumes == {"mongodb-secrets", "redis-secrets", "app-secrets"}
    expected = {"mongodb": "mongodb-secrets", "redis": "redis-secrets"} | {
        name: "app-secrets" for name in [*APP_SERVICES, "refill-stock"]
    }
    for name, service in services.items():
        if name == "secrets":
            continue
        secret_mounts = {v: m for v, m in mounts(service).items() if v in generator_volumes}
        assert set(secret_mounts) == ({expected[name]} if name in expected else set()), name
        for target, mode in secret_mounts.values():
            assert (target, mode) == (SECRETS_MOUNT, "ro"), name
        if secret_mounts:
            condition = service["depends_on"]["secrets"]["condition"]
            assert condition == "service_completed_successfully", name
    for name in [*APP_SERVICES, "refill-stock"]:
        entrypoint = services[name]["entrypoint"]
        assert entrypoint[:2] == ["sh", "-c"] and f". {SECRETS_MOUNT}/app.env" in entrypoint[2]
        assert 'exec "$$@"' in entrypoint[2], name


def test_no_secret_value_is_committed() -> None:
    files = [COMPOSE, *sorted(ENVS.iterdir())]
    assert len(files) > 1
    findings = [finding for path in files for finding in committed_secrets(path)]
    assert findings == []


def test_the_secret_scan_finds_committed_values(tmp_path: Path) -> None:
    env = tmp_path / "secrets.env"
    env.write_text(
        "OPERATOR_API_KEY=compose-dev-operator-key\n"
        "MONGO_INITDB_ROOT_PASSWORD=compose-dev-only-mongo\n"
        "GITHUB_TOKEN=abc\n"
        "MONGO_URL=mongodb://root:pw@mongodb:27017/\n"
        "MONGO_INITDB_ROOT_PASSWORD_FILE=/run/orders-saga/root_password\n"
        "ACTORS_ZERO_DELAY=false\n"
    )
    assert committed_secrets(env) == [
        "secrets.env: URL with credentials",
        "secrets.env: OPERATOR_API_KEY",
        "secrets.env: MONGO_INITDB_ROOT_PASSWORD",
        "secrets.env: GITHUB_TOKEN",
    ]
    compose_file = tmp_path / "docker-compose.yaml"
    compose_file.write_text(
        "services:\n"
        "  redis:\n"
        '    command: ["redis-server", "--requirepass", "hunter2"]\n'
        "    environment: [TRACKING_SECRET=abc, LOG_JSON=true]\n"
        "  app:\n"
        "    environment: {REDIS_PASSWORD: hunter2}\n"
    )
    assert committed_secrets(compose_file) == [
        "docker-compose.yaml: literal requirepass",
        "docker-compose.yaml: TRACKING_SECRET",
        "docker-compose.yaml: REDIS_PASSWORD",
    ]


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, name
        tag = image.rpartition(":")[2]
        assert tag and tag != "latest" and "/" not in tag, f"{name}: {image}"


def test_the_frontend_is_the_one_entry_point_on_8080(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert published == {"frontend": ["127.0.0.1:8080:8080"]}
    frontend = services["frontend"]
    assert frontend["build"] == {"context": ".", "dockerfile": "deploy/frontend.Dockerfile"}
    assert re.search(r"^\s*listen 8080;", FRONTEND_TEMPLATE.read_text(), re.MULTILINE)
    assert "127.0.0.1:8080/healthz" in " ".join(frontend["healthcheck"]["test"])
    # hardened like the app containers: nginx-unprivileged writes only under /tmp (its pid file,
    # buffers and the config the entrypoint renders there)
    assert frontend["read_only"] is True
    assert frontend["tmpfs"] == ["/tmp"]
    assert image_env()["NGINX_ENVSUBST_OUTPUT_DIR"] == "/tmp"
    assert frontend["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in frontend["security_opt"]
    assert "volumes" not in frontend and "env_file" not in frontend  # no secret reaches it


def test_the_frontend_proxies_to_the_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["frontend"]["environment"]
    owners = set(ROUTES.values())
    assert set(env) == {f"{owner.upper()}_UPSTREAM" for owner in owners}
    for owner in owners:
        host, _, port = env[f"{owner.upper()}_UPSTREAM"].partition(":")
        assert host == owner and owner in APP_SERVICES
        command = services[owner]["command"]
        assert command[command.index("--port") + 1] == port
    # the image's defaults say the same, so a plain `docker run` on compose's network works too
    assert {name: image_env()[name] for name in env} == env


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
