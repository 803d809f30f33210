"""The ceiling on failures that look transient: a handler that always hangs, or always raises
a dependency's error while every dependency answers its ping, ends in the dead-letter stream
after `max_deliveries`, with the details to debug it; while a dependency does not answer, the
same failures are waited out without counting a delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from pymongo.errors import AutoReconnect
from redis.asyncio import Redis

from sagakit.dead_letters import DeadLetters
from sagakit.dependencies import DependencyCheck
from sagakit.envelope import Envelope, Message
from sagakit.publisher import Publisher
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker


class Charge(Message):
    message_type = "test.charge"
    amount_cents: int


def charge(key: str) -> Envelope:
    return Charge(amount_cents=1).envelope(key=key, version=1)


async def nothing_pending(redis: Redis, stream: str, group: str) -> None:
    async def none() -> bool:
        return int((await redis.xpending(stream, group))["pending"]) == 0

    await eventually(none, what="nothing pending")


async def test_a_handler_that_always_hangs_on_one_message_gets_it_dead_lettered_with_reason_timeout(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    events: list[tuple[str, int]] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        if delivery.envelope.key == "stuck":
            events.append(("stuck", delivery.attempt))
            await hang_for_ever()
        events.append((delivery.envelope.key, delivery.attempt))

    await make_worker(router, group="g", max_deliveries=3, handler_timeout_s=0.5)
    stuck_id = await publisher.publish(stream, charge("stuck"))
    await eventually(lambda: ("stuck", 1) in events, what="the first attempt hanging")
    await publisher.publish_many([(stream, charge(f"other-{n}")) for n in range(5)])

    dead = DeadLetters(redis)

    async def dead_lettered() -> bool:
        return await dead.count(stream) == 1

    await eventually(dead_lettered, what="the hanging message dead-lettered", timeout_s=20)
    # each attempt counted a delivery, and the others were handled during the first hang
    assert [a for key, a in events if key == "stuck"] == [1, 2, 3]
    handled_others = {key for key, _ in events[: events.index(("stuck", 2))]} - {"stuck"}
    assert handled_others == {f"other-{n}" for n in range(5)}
    [letter] = await dead.list(stream)
    assert letter.original_id == stuck_id
    assert (letter.reason, letter.deliveries) == ("timeout", 3)
    assert letter.error == "handler timed out after 0.5 s"
    assert letter.failure.error_type == "TimeoutError"
    assert "hang_for_ever" in letter.failure.traceback  # where the handler was stuck
    await nothing_pending(redis, stream, "g")


async def hang_for_ever() -> None:
    await asyncio.sleep(3600)


async def test_a_handler_raising_oserror_while_redis_answers_is_dead_lettered_after_max_deliveries(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    attempts: list[int] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        refuse_the_gateway()

    await make_worker(router, group="g", max_deliveries=3)
    entry_id = await publisher.publish(stream, charge("o1"))
    dead = DeadLetters(redis)

    async def dead_lettered() -> bool:
        return await dead.count(stream) == 1

    await eventually(dead_lettered, what="the failing message dead-lettered")
    assert attempts == [1, 2, 3]
    [letter] = await dead.list(stream)
    assert (letter.original_id, letter.reason, letter.deliveries) == (
        entry_id,
        "max_deliveries",
        3,
    )
    assert letter.error == "ConnectionRefusedError: the payment gateway refused"
    assert letter.failure.error_type == "ConnectionRefusedError"
    assert letter.failure.error_message == "the payment gateway refused"
    assert "refuse_the_gateway" in letter.failure.traceback
    await nothing_pending(redis, stream, "g")


def refuse_the_gateway() -> None:
    raise ConnectionRefusedError("the payment gateway refused")


class FakeMongo:
    """A dependency the test takes away: its ping refuses, or answers too late (overload)."""

    def __init__(self, away: str) -> None:
        self.away: str | None = away
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        if self.away == "refused":
            raise AutoReconnect("connection refused")
        if self.away == "overloaded":
            await asyncio.sleep(5)  # far beyond the check's timeout


async def fail_with_autoreconnect() -> None:
    raise AutoReconnect("mongo: connection closed")


async def wait_for_an_answer() -> None:
    await asyncio.sleep(3600)  # beyond the handler's timeout: MongoDB is overloaded


@pytest.mark.parametrize(
    ("away", "failure"),
    [("refused", fail_with_autoreconnect), ("overloaded", wait_for_an_answer)],
    ids=["mongo-refuses:handler-raises", "mongo-overloaded:handler-times-out"],
)
async def test_failures_while_a_dependency_is_down_are_waited_out_uncounted_then_complete(
    namespace: str,
    redis: Redis,
    publisher: Publisher,
    make_worker: MakeWorker,
    away: str,
    failure: Callable[[], Awaitable[None]],
) -> None:
    """Far more failures than max_deliveries while MongoDB is down: none counts, nothing is
    dead-lettered, and the message completes once MongoDB answers again."""
    stream = f"{namespace}.payments"
    mongo = FakeMongo(away)
    attempts: list[int] = []
    router = Router()

    @router.subscriber(stream, Charge)
    async def on_charge(event: Charge, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) < 6:
            await failure()
        else:  # the sixth attempt finds MongoDB back: its failure was the only cause
            mongo.away = None

    check = DependencyCheck(
        {"redis": redis.ping, "mongo": mongo.ping}, timeout_s=0.2, fresh_for_s=0.05
    )
    await make_worker(router, group="g", max_deliveries=2, retry_cap_s=0.1, dependencies=check)
    await publisher.publish(stream, charge("o1"))
    await eventually(lambda: len(attempts) == 6, what="six attempts", timeout_s=20)
    await nothing_pending(redis, stream, "g")
    assert attempts == [1] * 6  # no delivery counted
    assert await DeadLetters(redis).count(stream) == 0
    assert mongo.pings > 0
