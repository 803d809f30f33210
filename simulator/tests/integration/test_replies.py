"""The durable reply schedule on its own: chains, leases, cancellation, idempotence."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from saga_contracts.messages import (
    AuthorizePayment,
    KitchenAccepted,
    KitchenReady,
    PaymentAuthorized,
)
from sagakit.clock import from_ms
from sagakit.connections import redis_client
from sagakit.envelope import Envelope
from sagakit.publisher import Publisher
from sagakit.replies import entries
from sagakit.testing.waiting import eventually
from simulator.actors.behaviour import Answer
from simulator.actors.replies import ScheduledReplies, reply_id


class Clock:
    def __init__(self, ms: int = 1_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def command(order_id: str = "o1") -> Envelope:
    return AuthorizePayment(order_id=order_id, amount_cents=1).envelope(key=order_id, version=4)


async def published(redis: Redis, stream: str) -> list[Envelope]:
    return [Envelope.from_fields(fields) for _, fields in entries(await redis.xrange(stream))]


def kitchen_answers(order_id: str = "o1") -> list[Answer]:
    return [
        Answer(100, KitchenAccepted(order_id=order_id)),
        Answer(0, KitchenReady(order_id=order_id)),  # ready the moment it is accepted
        Answer(50, PaymentAuthorized(order_id=order_id, payment_id="p")),
    ]


async def test_answers_fire_in_order_when_due_and_carry_their_publication_time(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    clock = Clock()
    replies = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock)
    stream = f"{namespace}.out"
    cmd = command()
    await replies.send("t1", cmd, stream, kitchen_answers())
    assert await published(redis, stream) == []
    assert await replies.fire_due() == 0

    clock.ms += 99
    assert await replies.fire_due() == 0
    clock.ms += 1
    assert await replies.fire_due() == 2  # accepted, and ready right behind it
    clock.ms += 49
    assert await replies.fire_due() == 0
    clock.ms += 1
    assert await replies.fire_due() == 1

    out = await published(redis, stream)
    assert [e.type for e in out] == ["kitchen.accepted", "kitchen.ready", "payment.authorized"]
    assert [e.occurred_at for e in out] == [
        from_ms(1_000_100),
        from_ms(1_000_100),
        from_ms(1_000_150),
    ]
    assert {(e.key, e.version, e.causation_id) for e in out} == {("o1", 4, cmd.id)}
    assert out[0].id == reply_id(cmd.id, "kitchen.accepted")
    assert await replies.scheduled() == 0


async def test_answers_due_now_are_published_at_once_and_only_the_rest_waits(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    clock = Clock()
    replies = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock)
    stream = f"{namespace}.out"
    answers = [Answer(0, KitchenAccepted(order_id="o1")), Answer(30, KitchenReady(order_id="o1"))]
    await replies.send("t1", command(), stream, answers)
    assert [e.type for e in await published(redis, stream)] == ["kitchen.accepted"]
    assert await replies.scheduled() == 1
    clock.ms += 30
    assert await replies.fire_due() == 1
    assert [e.type for e in await published(redis, stream)] == ["kitchen.accepted", "kitchen.ready"]


async def test_sending_again_while_waiting_schedules_nothing_more(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    clock = Clock()
    replies = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock)
    stream = f"{namespace}.out"
    cmd = command()
    answers = [Answer(100, KitchenAccepted(order_id="o1"))]
    await replies.send("t1", cmd, stream, answers)
    clock.ms += 50
    await replies.send("t1", cmd, stream, answers)  # a redelivery: keeps the first due time
    clock.ms += 50
    assert await replies.fire_due() == 1
    clock.ms += 10_000
    assert await replies.fire_due() == 0
    assert len(await published(redis, stream)) == 1


async def test_a_cancelled_timer_never_fires_and_cannot_be_scheduled_again(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    clock = Clock()
    replies = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock)
    stream = f"{namespace}.out"
    await replies.send("gone", command("o1"), stream, [Answer(10, KitchenReady(order_id="o1"))])
    await replies.send("kept", command("o2"), stream, [Answer(10, KitchenReady(order_id="o2"))])
    await replies.cancel("gone")
    await replies.send("gone", command("o1"), stream, [Answer(10, KitchenReady(order_id="o1"))])
    assert await replies.is_cancelled("gone")
    assert not await replies.is_cancelled("kept")
    clock.ms += 1_000
    assert await replies.fire_due() == 1
    assert [e.key for e in await published(redis, stream)] == ["o2"]


async def test_answers_taken_by_a_replica_that_died_are_sent_after_its_lease(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    clock = Clock()
    stream = f"{namespace}.out"
    dead_redis = redis_client("redis://127.0.0.1:9/0")  # its publishes fail: it "dies"
    dying = ScheduledReplies(
        redis, Publisher(dead_redis), prefix=namespace, clock=clock, lease_ms=5_000
    )
    survivor = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock, lease_ms=5_000)
    await survivor.send("t1", command(), stream, [Answer(10, KitchenReady(order_id="o1"))])
    clock.ms += 10
    try:
        await dying.fire_due()
    except Exception:  # the publish failed after the lease was taken
        pass
    finally:
        await dead_redis.aclose()
    assert await survivor.fire_due() == 0  # still leased
    clock.ms += 5_000
    assert await survivor.fire_due() == 1
    assert [e.type for e in await published(redis, stream)] == ["kitchen.ready"]
    assert await survivor.scheduled() == 0


async def test_two_replicas_firing_together_send_each_answer_once(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    clock = Clock()
    stream = f"{namespace}.out"
    first = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock, batch=7)
    second = ScheduledReplies(redis, publisher, prefix=namespace, clock=clock, batch=7)
    for n in range(60):
        ready = [Answer(5, KitchenReady(order_id=f"o{n}"))]
        await first.send(f"t{n}", command(f"o{n}"), stream, ready)
    clock.ms += 5
    counts = await asyncio.gather(first.fire_due(), second.fire_due())
    assert sum(counts) == 60
    keys = [e.key for e in await published(redis, stream)]
    assert sorted(keys) == sorted(f"o{n}" for n in range(60))


class CountingReplies(ScheduledReplies):
    polls = 0

    async def fire_due(self, now: int | None = None) -> int:
        self.polls += 1
        return await super().fire_due(now)


async def test_the_poller_sleeps_until_the_next_answer_is_due(
    namespace: str, redis: Redis, publisher: Publisher
) -> None:
    """Idle, it looks every `idle_poll_s` instead of every `poll_interval_s`; an answer
    scheduled here wakes it to fire on time, and so does one another replica scheduled."""
    replies = CountingReplies(
        redis, publisher, prefix=namespace, poll_interval_s=0.01, idle_poll_s=0.5
    )
    other_replica = ScheduledReplies(redis, publisher, prefix=namespace)
    stream = f"{namespace}.out"
    await replies.start()
    try:
        await asyncio.sleep(1.0)  # 100 polls at poll_interval_s; about 2 at idle_poll_s
        assert replies.polls <= 10
        await replies.send(
            "here", command("o1"), stream, [Answer(300, KitchenReady(order_id="o1"))]
        )
        await other_replica.send(
            "there", command("o2"), stream, [Answer(200, KitchenReady(order_id="o2"))]
        )

        async def both_published() -> bool:
            return len(await published(redis, stream)) == 2

        await eventually(both_published, what="both answers published by the poller")
    finally:
        await replies.stop()
