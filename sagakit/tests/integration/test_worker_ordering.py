"""Ordering and backpressure: one order's messages in order, different orders concurrently,
never more than `max_in_flight` at once, and a long per-order backlog not stolen by others."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker

pytestmark = pytest.mark.every_redis_version


class Step(Message):
    message_type = "test.step"
    seq: int


async def wait_all_acked(redis: Redis, stream: str, group: str) -> None:
    async def none_pending() -> bool:
        return int((await redis.xpending(stream, group))["pending"]) == 0

    await eventually(none_pending, what="nothing pending")


async def test_one_keys_messages_stay_in_order_while_keys_run_concurrently(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.steps"
    keys, per_key = 20, 12
    rng = random.Random(1234)
    order: dict[str, list[int]] = defaultdict(list)
    running: Counter[str] = Counter()
    peak_keys = 0
    router = Router()

    @router.subscriber(stream, Step)
    async def on_step(step: Step, delivery: Delivery) -> None:
        nonlocal peak_keys
        key = delivery.envelope.key
        running[key] += 1
        assert running[key] == 1, f"two messages of {key} ran at once"
        peak_keys = max(peak_keys, sum(1 for v in running.values() if v))
        try:
            await asyncio.sleep(rng.uniform(0, 0.01))
            order[key].append(step.seq)
        finally:
            running[key] -= 1

    await make_worker(router, group="g", batch_size=17)
    # interleaved, in several publishes, so batches cut across keys and sequences
    messages = [
        (stream, Step(seq=seq).envelope(key=f"order-{k}", version=seq))
        for seq in range(per_key)
        for k in rng.sample(range(keys), keys)
    ]
    for start in range(0, len(messages), 25):
        await publisher.publish_many(messages[start : start + 25])
    await eventually(
        lambda: sum(map(len, order.values())) == keys * per_key, what="every message handled"
    )
    await wait_all_acked(redis, stream, "g")
    assert len(order) == keys
    for key, seqs in order.items():
        assert seqs == list(range(per_key)), key
    assert peak_keys > 1, "different keys never overlapped: no concurrency happened"


async def test_never_more_than_max_in_flight_handlers_at_once(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.steps"
    active = 0
    peak = 0
    handled = 0
    router = Router()

    @router.subscriber(stream, Step)
    async def on_step(step: Step, delivery: Delivery) -> None:
        nonlocal active, peak, handled
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.03)
        finally:
            active -= 1
            handled += 1

    worker = await make_worker(router, group="g", max_in_flight=4)
    sizes: list[int] = []

    async def sample() -> None:
        while True:
            sizes.append(worker.in_flight)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    try:
        await publisher.publish_many(
            [(stream, Step(seq=n).envelope(key=f"order-{n}", version=1)) for n in range(40)]
        )
        await eventually(lambda: handled == 40, what="all handled")
    finally:
        sampler.cancel()
    await wait_all_acked(redis, stream, "g")
    assert peak == 4  # the limit was reached and never exceeded
    assert max(sizes) <= 4


@pytest.mark.slow
async def test_a_long_backlog_of_one_key_is_not_stolen_by_another_consumer(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    """A key's later messages wait in this consumer's queue longer than the claim threshold.

    They are pending in Redis and idle there, yet this consumer is working through them: no
    other consumer may claim and handle them (twice, out of order), nor may the wait count
    as extra deliveries.
    """
    stream = f"{namespace}.steps"
    seen: list[tuple[str, int, int]] = []
    router = Router()

    @router.subscriber(stream, Step)
    async def on_step(step: Step, delivery: Delivery) -> None:
        seen.append(("start", step.seq, delivery.attempt))
        await asyncio.sleep(0.35)  # under the handler timeout; 8 of them exceed claim_idle_ms
        seen.append(("end", step.seq, delivery.attempt))

    first = await make_worker(router, group="g", consumer="c1")
    await publisher.publish_many(
        [(stream, Step(seq=n).envelope(key="hot-order", version=n)) for n in range(8)]
    )
    await eventually(lambda: first.in_flight == 8, what="the backlog taken by c1")
    await make_worker(router, group="g", consumer="c2", claim_interval_s=0.05)  # eager claimer
    await eventually(lambda: len(seen) == 16, timeout_s=8, what="the backlog worked through")
    await wait_all_acked(redis, stream, "g")
    await asyncio.sleep(0.3)
    assert [(what, seq) for what, seq, _ in seen] == [
        (what, n) for n in range(8) for what in ("start", "end")
    ]
    assert {attempt for _, _, attempt in seen} == {1}
    claimed = REGISTRY.get_sample_value(
        "sagakit_messages_claimed_total", {"stream": stream, "group": "g"}
    )
    assert not claimed, f"{claimed} entries claimed while their consumer was working on them"
