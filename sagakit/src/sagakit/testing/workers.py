"""Fixtures that build workers and publishers with test-speed settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from sagakit.connections import redis_client
from sagakit.dependencies import DependencyCheck
from sagakit.publisher import Publisher
from sagakit.routing import Router
from sagakit.settings import WorkerSettings
from sagakit.worker import StreamWorker

FAST: dict[str, Any] = {
    "batch_size": 50,
    "block_ms": 100,
    "handler_timeout_s": 0.5,
    "claim_idle_ms": 1_500,
    "claim_interval_s": 0.2,
    "retry_base_s": 0.05,
    "retry_cap_s": 0.4,
    "reconnect_base_s": 0.05,
    "reconnect_cap_s": 0.3,
    "maintenance_interval_s": 0.2,
    "trim_interval_s": 0.2,
    "trim_exact": True,
    "shutdown_timeout_s": 3.0,
    "max_deliveries": 4,
}

MakeWorker = Callable[..., Awaitable[StreamWorker]]


def fast_settings(**overrides: Any) -> WorkerSettings:
    return WorkerSettings(**{**FAST, **overrides})


@pytest_asyncio.fixture
async def make_worker(redis_url: str) -> AsyncIterator[MakeWorker]:
    """Build and start workers with test-speed settings; all are stopped after the test."""
    started: list[StreamWorker] = []

    async def build(
        router: Router,
        *,
        group: str,
        consumer: str = "c1",
        url: str | None = None,
        dependencies: DependencyCheck | None = None,
        **overrides: Any,
    ) -> StreamWorker:
        worker = StreamWorker(
            redis_url=url or redis_url,
            group=group,
            consumer=consumer,
            router=router,
            settings=fast_settings(**overrides),
            dependencies=dependencies,
        )
        await worker.start()
        started.append(worker)
        return worker

    yield build
    for worker in started:
        await worker.stop()


@pytest_asyncio.fixture
async def publisher(redis_url: str) -> AsyncIterator[Publisher]:
    client = redis_client(redis_url)
    yield Publisher(client)
    await client.aclose()
