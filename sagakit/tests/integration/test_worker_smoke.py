from __future__ import annotations

import pytest
from redis.asyncio import Redis

from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker

pytestmark = pytest.mark.every_redis_version


class Pinged(Message):
    message_type = "test.pinged"
    n: int


async def test_consumes_and_acknowledges(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.events"
    seen: list[int] = []
    router = Router()

    @router.subscriber(stream, Pinged)
    async def on_ping(event: Pinged, delivery: Delivery) -> None:
        seen.append(event.n)

    await make_worker(router, group="g")
    for n in range(20):
        await publisher.publish(stream, Pinged(n=n).envelope(key=f"k{n % 3}", version=n))
    await eventually(lambda: len(seen) == 20, what="all handled")

    async def acked() -> bool:
        return (await redis.xpending(stream, "g"))["pending"] == 0

    await eventually(acked, what="all acknowledged")
    assert sorted(seen) == list(range(20))
