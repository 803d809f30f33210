"""Messages that arrive ahead of the one they follow (two replicas read an order's consecutive
messages): put back without counting a delivery, never dropped, never a deadlock."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from sagakit.dead_letters import DeadLetters
from sagakit.early import ArrivedEarly
from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker


class Step(Message):
    message_type = "test.step"
    seq: int


async def test_a_message_ahead_of_its_predecessor_waits_for_it_on_another_replica(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    """Replica 2 reads step 2 while replica 1 is still handling step 1 of the same order."""
    stream = f"{namespace}.steps"
    applied: list[int] = []
    step_one_started = asyncio.Event()
    finish_step_one = asyncio.Event()
    early_calls = 0

    def router_for(replica: str) -> Router:
        router = Router()

        @router.subscriber(stream, Step)
        async def on_step(step: Step, delivery: Delivery) -> None:
            nonlocal early_calls
            if step.seq == 1:
                step_one_started.set()
                await finish_step_one.wait()
            elif applied != [1]:
                early_calls += 1
                raise ArrivedEarly(f"step {step.seq} before step 1 ({replica})")
            applied.append(step.seq)

        return router

    # r1 holds one message at a time, so step 2 can only go to r2; step 1 may take long
    slow = {"handler_timeout_s": 10.0, "claim_idle_ms": 20_000}
    await make_worker(router_for("r1"), group="g", consumer="r1", max_in_flight=1, **slow)
    await publisher.publish(stream, Step(seq=1).envelope(key="order-1", version=1))
    await asyncio.wait_for(step_one_started.wait(), 5)
    await make_worker(router_for("r2"), group="g", consumer="r2", **slow)
    second = await publisher.publish(stream, Step(seq=2).envelope(key="order-1", version=2))

    await eventually(lambda: early_calls >= 3, what="step 2 put back several times")
    (row,) = await redis.xpending_range(stream, "g", min=second, max=second, count=1)
    assert (row["consumer"], row["times_delivered"]) == ("r2", 1)  # no delivery counted
    finish_step_one.set()
    await eventually(lambda: applied == [1, 2], what="both steps applied, in order")
    await eventually(lambda: _nothing_pending(redis, stream, "g"), what="both acknowledged")
    assert await DeadLetters(redis).count(stream) == 0


async def test_a_predecessor_claimed_later_runs_before_the_early_message_it_unblocks(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    """Step 2 waits here while step 1 sits with a crashed consumer; when this worker claims
    step 1 it is queued behind step 2 under the same key, and must not wait behind it."""
    stream = f"{namespace}.steps"
    applied: list[int] = []
    router = Router()

    @router.subscriber(stream, Step)
    async def on_step(step: Step, delivery: Delivery) -> None:
        if step.seq == 2 and 1 not in applied:
            raise ArrivedEarly("step 2 before step 1")
        applied.append(step.seq)

    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await publisher.publish(stream, Step(seq=1).envelope(key="order-1", version=1))
    # a consumer that read step 1 and died
    await redis.xreadgroup("g", "crashed", {stream: ">"}, count=1)
    await publisher.publish(stream, Step(seq=2).envelope(key="order-1", version=2))
    await make_worker(router, group="g", consumer="alive", claim_idle_ms=1_500)

    await eventually(lambda: applied == [1, 2], what="step 1 claimed, then step 2", timeout_s=15)
    await eventually(lambda: _nothing_pending(redis, stream, "g"), what="both acknowledged")
    assert await DeadLetters(redis).count(stream) == 0


async def test_a_message_early_for_too_long_is_a_failure_and_ends_dead_lettered(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.steps"
    router = Router()

    @router.subscriber(stream, Step)
    async def on_step(step: Step, delivery: Delivery) -> None:
        raise ArrivedEarly("the step it follows never comes")

    await make_worker(router, group="g", early_wait_s=0.3, max_deliveries=2)
    await publisher.publish(stream, Step(seq=2).envelope(key="order-1", version=2))

    async def dead_lettered() -> bool:
        return await DeadLetters(redis).count(stream) == 1

    await eventually(dead_lettered, what="dead-lettered after waiting", timeout_s=15)
    (letter,) = await DeadLetters(redis).list(stream)
    assert letter.reason == "max_deliveries"
    assert "never comes" in letter.error


async def _nothing_pending(redis: Redis, stream: str, group: str) -> bool:
    return int((await redis.xpending(stream, group))["pending"]) == 0
