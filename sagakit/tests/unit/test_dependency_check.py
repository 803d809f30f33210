from __future__ import annotations

import asyncio

from sagakit.dependencies import DependencyCheck


class Server:
    def __init__(self) -> None:
        self.pings = 0
        self.state = "up"

    async def ping(self) -> None:
        self.pings += 1
        await asyncio.sleep(0.01)
        if self.state == "refusing":
            raise ConnectionRefusedError("refused")
        if self.state == "slow":
            await asyncio.sleep(10)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_dependency_that_refuses_or_answers_too_late_is_down() -> None:
    redis, mongo = Server(), Server()
    clock = Clock()
    check = DependencyCheck({"redis": redis.ping, "mongo": mongo.ping}, timeout_s=0.1, clock=clock)
    assert await check.unreachable() is None
    redis.state = "refusing"
    clock.now += 1
    assert await check.down() == {"redis": "redis: ConnectionRefusedError: refused"}
    redis.state, mongo.state = "up", "slow"
    clock.now += 1
    assert await check.down() == {"mongo": "mongo: no answer to a ping within 0.1 s"}
    assert await check.unreachable() == "mongo"


async def test_a_storm_of_checks_costs_one_ping_and_the_answer_is_reused_briefly() -> None:
    server = Server()
    clock = Clock()
    check = DependencyCheck({"redis": server.ping}, fresh_for_s=0.5, clock=clock)
    answers = await asyncio.gather(*(check.unreachable() for _ in range(100)))
    assert answers == [None] * 100
    assert server.pings == 1
    clock.now += 0.4
    server.state = "refusing"
    assert await check.unreachable() is None  # still fresh
    assert server.pings == 1
    clock.now += 0.2
    assert await check.unreachable() == "redis"
    assert server.pings == 2


async def test_a_cancelled_caller_does_not_cancel_the_ping_others_wait_for() -> None:
    server = Server()
    check = DependencyCheck({"redis": server.ping})
    first = asyncio.create_task(check.unreachable())
    second = asyncio.create_task(check.unreachable())
    await asyncio.sleep(0)
    first.cancel()
    assert await second is None
    assert server.pings == 1
