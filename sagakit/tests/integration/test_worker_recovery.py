"""Recovery: consumers that die holding entries, entries deleted while pending, restarts under
the same consumer name, and removal of consumers that are gone."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from redis.asyncio import Redis

from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.replies import entries, read_reply
from sagakit.routing import Delivery, Router
from sagakit.testing.metrics import deleted_pending_acked
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker

pytestmark = pytest.mark.every_redis_version


class Job(Message):
    message_type = "test.job"
    n: int


async def publish_jobs(publisher: Publisher, stream: str, count: int) -> list[str]:
    return await publisher.publish_many(
        [(stream, Job(n=n).envelope(key=f"order-{n}", version=1)) for n in range(count)]
    )


async def read_and_die(
    redis: Redis, stream: str, group: str, consumer: str, count: int
) -> list[str]:
    """What a consumer that crashed right after reading leaves behind: entries in its PEL."""
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    [(_, taken)] = read_reply(await redis.xreadgroup(group, consumer, {stream: ">"}, count=count))
    return [entry_id for entry_id, _ in taken]


async def pending_count(redis: Redis, stream: str, group: str) -> int:
    return int((await redis.xpending(stream, group))["pending"])


async def owned(redis: Redis, stream: str, group: str) -> dict[str, int]:
    return {c["name"]: int(c["pending"]) for c in await redis.xinfo_consumers(stream, group)}


@pytest.mark.slow
async def test_entries_of_a_dead_consumer_are_claimed_and_handled_once(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    ids = await publish_jobs(publisher, stream, 12)
    taken = await read_and_die(redis, stream, "g", "dead", count=12)
    assert taken == ids
    handled: list[tuple[str, int]] = []
    router = Router()

    @router.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        handled.append((delivery.entry_id, delivery.attempt))

    await make_worker(router, group="g", consumer="alive")
    await eventually(lambda: len(handled) >= 12, what="claimed entries handled")

    async def all_acked() -> bool:
        return await pending_count(redis, stream, "g") == 0

    await eventually(all_acked, what="nothing left pending")
    await asyncio.sleep(0.5)  # a few more claim rounds: nothing may come back
    assert Counter(entry_id for entry_id, _ in handled) == Counter(ids)
    # the second delivery: Redis counted the dead consumer's read and the claim
    assert {attempt for _, attempt in handled} == {2}
    assert (await owned(redis, stream, "g")).get("dead", 0) == 0


@pytest.mark.slow
async def test_entries_deleted_while_pending_in_a_dead_consumer_are_cleared_by_the_claimer(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    """Redis 7's XAUTOCLAIM reports deleted ids; 6.2's claims them as nils and keeps them."""
    stream = f"{namespace}.jobs"
    ids = await publish_jobs(publisher, stream, 8)
    await read_and_die(redis, stream, "g", "dead", count=8)
    deleted, kept = ids[::2], ids[1::2]
    assert await redis.xdel(stream, *deleted) == len(deleted)
    handled: list[str] = []
    router = Router()

    @router.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        handled.append(delivery.entry_id)

    await make_worker(router, group="g", consumer="alive")

    async def pel_empty() -> bool:
        return await pending_count(redis, stream, "g") == 0

    await eventually(pel_empty, what="the PEL to empty")
    assert sorted(handled) == sorted(kept)
    assert await redis.xlen(f"dlq.{stream}") == 0  # deleted is not poison
    assert deleted_pending_acked(stream, "g") == len(deleted)


async def test_an_entry_that_keeps_killing_consumers_is_dead_lettered_unhandled(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    [entry_id] = await publish_jobs(publisher, stream, 1)
    await read_and_die(redis, stream, "g", "dead-1", count=1)
    for n in range(2, 5):  # three more consumers took it over and died with it
        await redis.xclaim(stream, "g", f"dead-{n}", min_idle_time=0, message_ids=[entry_id])
    # and it has been idle long enough to be claimed (IDLE, JUSTID: no extra delivery counted)
    await redis.xclaim(
        stream, "g", "dead-4", min_idle_time=0, message_ids=[entry_id], idle=60_000, justid=True
    )
    handled: list[str] = []
    router = Router()

    @router.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        handled.append(delivery.entry_id)

    await make_worker(router, group="g", consumer="alive")  # max_deliveries=4

    async def dead_lettered() -> bool:
        return int(await redis.xlen(f"dlq.{stream}")) == 1

    await eventually(dead_lettered, what="the entry dead-lettered")
    assert handled == []
    [(_, record)] = entries(await redis.xrange(f"dlq.{stream}"))
    assert record is not None
    assert record["reason"] == "max_deliveries"
    assert record["original_id"] == entry_id
    assert int(record["deliveries"]) == 5
    assert await pending_count(redis, stream, "g") == 0


async def test_entries_deleted_while_pending_are_cleared_on_restart_under_the_same_name(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    ids = await publish_jobs(publisher, stream, 6)
    await read_and_die(redis, stream, "g", "c1", count=6)
    await redis.xdel(stream, *ids[:3])
    handled: list[str] = []
    router = Router()

    @router.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        handled.append(delivery.entry_id)

    # the claim threshold is far away: only the restart's re-read of its own PEL can do this
    await make_worker(router, group="g", consumer="c1", claim_idle_ms=60_000)

    async def pel_empty() -> bool:
        return await pending_count(redis, stream, "g") == 0

    await eventually(pel_empty, timeout_s=5, what="own pending entries, deleted or not, cleared")
    assert sorted(handled) == sorted(ids[3:])
    assert await redis.xlen(f"dlq.{stream}") == 0  # acknowledged, not dead-lettered


@pytest.mark.slow
async def test_restart_with_the_same_consumer_name_picks_up_abandoned_entries(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    started: list[str] = []
    stuck = Router()

    @stuck.subscriber(stream, Job)
    async def hang(job: Job, delivery: Delivery) -> None:
        started.append(delivery.entry_id)
        await asyncio.Event().wait()

    slow_settings = {"handler_timeout_s": 30.0, "claim_idle_ms": 60_000}
    first = await make_worker(stuck, group="g", consumer="c1", **slow_settings)
    ids = await publish_jobs(publisher, stream, 5)
    await eventually(lambda: len(started) == 5, what="all five in flight")
    await first.stop(timeout_s=1.0)
    assert await owned(redis, stream, "g") == {"c1": 5}

    handled: list[tuple[str, int]] = []
    working = Router()

    @working.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        handled.append((delivery.entry_id, delivery.attempt))

    await make_worker(working, group="g", consumer="c1", **slow_settings)
    await eventually(lambda: len(handled) == 5, timeout_s=5, what="abandoned entries handled")

    async def pel_empty() -> bool:
        return await pending_count(redis, stream, "g") == 0

    await eventually(pel_empty, what="all acknowledged")
    assert sorted(entry_id for entry_id, _ in handled) == sorted(ids)
    assert all(attempt == 2 for _, attempt in handled)


async def test_idle_consumers_that_own_nothing_are_removed(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    await publish_jobs(publisher, stream, 3)
    await read_and_die(redis, stream, "g", "gone-with-work", count=3)
    await redis.xgroup_createconsumer(stream, "g", "gone-empty")
    handled: list[int] = []
    router = Router()

    @router.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        handled.append(job.n)

    overrides = {"consumer_cleanup_idle_ms": 400, "claim_idle_ms": 60_000}
    await make_worker(router, group="g", consumer="c1", **overrides)
    await make_worker(router, group="g", consumer="c2", **overrides)

    async def empty_one_removed() -> bool:
        return "gone-empty" not in await owned(redis, stream, "g")

    await eventually(empty_one_removed, timeout_s=5, what="the idle empty consumer removed")
    await asyncio.sleep(0.6)  # more maintenance rounds, well past the idle threshold
    consumers = await owned(redis, stream, "g")
    assert consumers["gone-with-work"] == 3  # owns pending entries: kept, entries intact
    assert "gone-empty" not in consumers
    # Live workers that got nothing may be removed too (Redis 6.2 counts them idle), which is
    # harmless only if they go on consuming: their next read recreates them.
    await publisher.publish(stream, Job(n=99).envelope(key="late", version=1))
    await eventually(lambda: 99 in handled, timeout_s=3, what="a new entry handled after cleanup")
    assert await pending_count(redis, stream, "g") == 3
