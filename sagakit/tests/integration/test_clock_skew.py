"""A node whose local clock is ten minutes off (a Raspberry Pi has no RTC) still reads the
times other processes wrote on the one clock: the Redis server's."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from sagakit.clock import installed
from sagakit.deadlines import DEADLINE_AT, DeadlineScheduler
from sagakit.service import ServiceRuntime
from sagakit.settings import ConnectionSettings
from sagakit.testing.clocks import TEN_MINUTES_MS, skewed_clock, synced_clock

Db = AsyncDatabase[dict[str, Any]]
SKEWS = pytest.mark.parametrize(
    "skew_ms", [TEN_MINUTES_MS, -TEN_MINUTES_MS], ids=["10-min-ahead", "10-min-behind"]
)


def runtime_on(redis_url: str, mongo_url: str, db: Db) -> ServiceRuntime:
    connections = ConnectionSettings(redis_url=redis_url, mongo_url=mongo_url, mongo_db=db.name)
    return ServiceRuntime("skewed", connections)


@SKEWS
async def test_a_skewed_service_fires_deadlines_written_elsewhere_on_time(
    skew_ms: float, redis_url: str, mongo_url: str, mongo_db: Db, redis: Redis
) -> None:
    writer = await synced_clock(redis)  # the process that entered the steps
    fired: list[str] = []

    async def on_due(doc: dict[str, Any]) -> None:
        fired.append(doc["_id"])

    scheduler = DeadlineScheduler(mongo_db.orders, on_due)
    with installed(skewed_clock(skew_ms)) as local:
        runtime = runtime_on(redis_url, mongo_url, mongo_db)
        await runtime.start()
        try:
            assert abs(local.now_ms() - writer.now_ms()) < 1_000
            written = writer.now_ms()
            await mongo_db.orders.insert_many(
                [
                    {"_id": "due", DEADLINE_AT: written - 1_000},
                    {"_id": "not-yet", DEADLINE_AT: written + 2_000},
                ]
            )
            assert await scheduler.fire_due() == 1
            await scheduler.stop()  # waits for the handler
        finally:
            await runtime.stop()
    assert fired == ["due"]


async def test_a_service_syncs_its_clock_before_its_startup_steps(
    redis_url: str, mongo_url: str, mongo_db: Db
) -> None:
    synced_at_startup: list[bool] = []
    with installed(skewed_clock(TEN_MINUTES_MS)) as local:
        runtime = runtime_on(redis_url, mongo_url, mongo_db)

        async def step() -> None:
            synced_at_startup.append(local.synced)

        runtime.on_startup(step)
        await runtime.start()
        await runtime.stop()
    assert synced_at_startup == [True]
