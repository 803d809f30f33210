"""Redis for tests: `REDIS_URL`, else a private server (see sagakit.embedded.redis).

Tests that flush or restart Redis must use their own server; the rest share one per session
(or the one at `REDIS_URL`) and isolate themselves with unique stream names.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from sagakit.connections import redis_client
from sagakit.embedded.redis import RedisServer


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared test Redis: `REDIS_URL`, else a private server for the session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, for tests that flush, kill or restart it."""
    with RedisServer(tmp_path / "redis", appendonly=True) as server:
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
