"""Resilience: the stream or the whole dataset vanishing, Redis restarting, trimming under a
lagging group, and graceful shutdown with work in flight (in process and on a real SIGTERM)."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from sagakit import stream_ids
from sagakit.connections import redis_client
from sagakit.embedded.redis import RedisServer
from sagakit.envelope import Message
from sagakit.health import Health
from sagakit.publisher import Publisher
from sagakit.replies import entries, read_reply
from sagakit.routing import Delivery, Router
from sagakit.testing.metrics import deleted_pending_acked
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker, fast_settings
from sagakit.worker import StreamWorker

pytestmark = pytest.mark.every_redis_version


class Tick(Message):
    message_type = "test.tick"
    n: int


@pytest_asyncio.fixture
async def private_client(private_redis: RedisServer) -> AsyncIterator[Redis]:
    client = redis_client(private_redis.url)
    yield client
    await client.aclose()


async def pending_ids(redis: Redis, stream: str, group: str) -> set[str]:
    rows = await redis.xpending_range(stream, group, min="-", max="+", count=10_000)
    return {str(row["message_id"]) for row in rows}


async def wait_all_acked(redis: Redis, stream: str, group: str, timeout_s: float = 10) -> None:
    async def none_pending() -> bool:
        return not await pending_ids(redis, stream, group)

    await eventually(none_pending, timeout_s=timeout_s, what=f"{group} has nothing pending")


def recording_router(stream: str) -> tuple[Router, list[int]]:
    """A router whose handler of `stream` records each tick's `n`, and the record."""
    seen: list[int] = []
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        seen.append(event.n)

    return router, seen


async def kill_blocked_readers(redis: Redis) -> None:
    """Close the connections of blocked XREADGROUPs, as when a read's reply dies in transit."""
    readers = [c["id"] for c in await redis.client_list() if c.get("cmd") == "xreadgroup"]
    assert readers
    for client_id in readers:
        await redis.client_kill_filter(_id=client_id)


def tick(n: int, keys: int = 5) -> tuple[str, int]:
    return f"order-{n % keys}", n


# ---- the stream, the group or everything vanishing ---------------------------------------


@pytest.mark.parametrize("disaster", ["del", "destroy-group", "flushall"])
async def test_the_group_is_recreated_when_the_stream_or_dataset_vanishes(
    disaster: str,
    namespace: str,
    private_redis: RedisServer,
    private_client: Redis,
    make_worker: MakeWorker,
) -> None:
    stream = f"{namespace}.ticks"
    router, seen = recording_router(stream)

    worker = await make_worker(router, group="g", url=private_redis.url)
    publisher = Publisher(private_client)
    await publisher.publish_many(
        [(stream, Tick(n=n).envelope(key="o", version=n)) for n in range(5)]
    )
    await eventually(lambda: len(seen) == 5, what="the first entries handled")
    await wait_all_acked(private_client, stream, "g")

    if disaster == "del":
        await private_client.delete(stream)
    elif disaster == "destroy-group":
        await private_client.xgroup_destroy(stream, "g")
    else:
        await private_client.flushall()
    assert not await private_client.exists(stream) or disaster == "destroy-group"

    for n in range(5, 10):
        await publisher.publish(stream, Tick(n=n).envelope(key="o", version=n))
    await eventually(lambda: set(range(5, 10)) <= set(seen), what="new entries handled")
    await wait_all_acked(private_client, stream, "g")
    if disaster == "destroy-group":
        # the group's position is gone with it: the recreated group starts from the beginning
        # of what is left in the stream, so old entries come again (at least once, never lost)
        assert sorted(set(seen)) == list(range(10))
        assert seen[5:] == list(range(10))
    else:
        assert seen == list(range(10))  # each once, in order
    await wait_all_acked(private_client, stream, "g")
    assert worker.health.ready()
    groups = {g["name"] for g in await private_client.xinfo_groups(stream)}
    assert groups == {"g"}


async def test_entries_published_before_the_group_is_recreated_are_not_skipped(
    namespace: str, private_redis: RedisServer, private_client: Redis, make_worker: MakeWorker
) -> None:
    """After Redis lost everything, the sweeper may republish into a stream before the worker
    recreates its group; the group is recreated at id 0 (not $), so those entries are read."""
    stream = f"{namespace}.ticks"
    router, seen = recording_router(stream)

    worker = await make_worker(router, group="g", url=private_redis.url)
    await eventually(worker.health.ready, what="the worker reading")
    # In one transaction: everything is gone, and the stream exists again, without the group,
    # holding entries, before the worker's blocked read can notice anything.
    async with private_client.pipeline(transaction=True) as pipe:
        pipe.flushall()
        for n in range(3):
            pipe.xadd(stream, Tick(n=n).envelope(key="o", version=n).to_fields())
        await pipe.execute()

    await eventually(lambda: seen == [0, 1, 2], what="the entries published before the group")
    await wait_all_acked(private_client, stream, "g")


# ---- a Redis restart under load -----------------------------------------------------------


@pytest.mark.slow
async def test_a_redis_restart_mid_stream_loses_nothing_and_readiness_follows(
    namespace: str, private_redis: RedisServer, private_client: Redis, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.ticks"
    handled: Counter[int] = Counter()
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        await asyncio.sleep(0.005)
        handled[event.n] += 1

    worker = await make_worker(router, group="g", url=private_redis.url)
    await eventually(worker.health.ready, what="the worker ready")
    publisher = Publisher(private_client)
    published: list[int] = []
    publishing = True

    async def publish_forever() -> None:
        n = 0
        while publishing:
            key, _ = tick(n)
            try:
                await publisher.publish(stream, Tick(n=n).envelope(key=key, version=n))
            except Exception:  # Redis is down: retry the same message
                await asyncio.sleep(0.05)
                continue
            published.append(n)
            n += 1
            await asyncio.sleep(0.01)

    load = asyncio.create_task(publish_forever())
    try:
        await eventually(lambda: len(handled) >= 30, what="load flowing")
        await asyncio.to_thread(private_redis.stop)
        await eventually(lambda: not worker.health.ready(), timeout_s=10, what="readiness false")
        reasons = worker.health.report()["reasons"]
        assert reasons, "no reason given for not being ready"
        await asyncio.sleep(0.5)  # stay down a while
        assert not worker.health.ready()
        down_at = len(published)
        await asyncio.to_thread(private_redis.start)
        await eventually(worker.health.ready, timeout_s=10, what="readiness back")
        await eventually(lambda: len(published) >= down_at + 30, what="publishing again")
    finally:
        publishing = False
        await load
    expected = set(published)
    await eventually(lambda: expected <= set(handled), timeout_s=15, what="every entry handled")
    await wait_all_acked(private_client, stream, "g", timeout_s=15)
    assert set(handled) == expected


async def test_an_entry_whose_handler_failed_while_redis_was_down_is_handled_once_it_is_back(
    namespace: str, private_redis: RedisServer, private_client: Redis, make_worker: MakeWorker
) -> None:
    """The re-claim before the retry fails too while Redis is away: the worker keeps the entry
    and retries when Redis is back (AOF kept its PEL), not after the claim threshold."""
    stream = f"{namespace}.ticks"
    attempts: list[int] = []
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        attempts.append(event.n)
        if len(attempts) == 1:  # Redis dies under the first attempt, which fails because of it
            await asyncio.to_thread(private_redis.kill)
            raise RedisConnectionError("Connection closed by server.")

    await make_worker(router, group="g", url=private_redis.url, claim_idle_ms=120_000)
    await Publisher(private_client).publish(stream, Tick(n=7).envelope(key="o", version=1))
    await eventually(lambda: len(attempts) == 1, what="the first attempt")
    await asyncio.sleep(1.0)  # several re-claims fail meanwhile
    await asyncio.to_thread(private_redis.start)
    await eventually(lambda: len(attempts) == 2, timeout_s=15, what="the entry handled again")
    after_restart = redis_client(private_redis.url)  # the old client's connection died
    try:
        await wait_all_acked(after_restart, stream, "g")
    finally:
        await after_restart.aclose()
    assert attempts == [7, 7]


async def test_an_entry_whose_read_reply_was_lost_is_taken_back_after_the_reconnect(
    namespace: str, private_redis: RedisServer, private_client: Redis, make_worker: MakeWorker
) -> None:
    """Redis delivered an entry to the worker's name but the reply died with the connection:
    the entry is pending for this consumer and unknown to it. After reconnecting, the worker
    takes it back at once instead of waiting for the claim threshold."""
    stream = f"{namespace}.ticks"
    router, handled = recording_router(stream)

    worker = await make_worker(
        router, group="g", consumer="c1", url=private_redis.url, claim_idle_ms=120_000
    )
    await eventually(worker.health.ready, what="the worker reading")
    publisher = Publisher(private_client)
    await publisher.publish(stream, Tick(n=1).envelope(key="o", version=1))
    await eventually(lambda: handled == [1], what="a first entry handled")

    # XADD and a read under the worker's name in one transaction: the entry is delivered to
    # "c1" (pending for it) without the worker's blocked read ever receiving it.
    async with private_client.pipeline(transaction=True) as pipe:
        pipe.xadd(stream, Tick(n=2).envelope(key="o", version=2).to_fields())
        pipe.xreadgroup("g", "c1", {stream: ">"}, count=1)
        await pipe.execute()
    assert {
        row["consumer"]
        for row in await private_client.xpending_range(stream, "g", min="-", max="+", count=10)
    } == {"c1"}
    # the worker's blocked read loses its connection, as when the reply dies in transit
    await kill_blocked_readers(private_client)

    await eventually(lambda: handled == [1, 2], timeout_s=10, what="the lost entry handled")
    await wait_all_acked(private_client, stream, "g")


async def test_an_entry_lost_to_a_reconnect_and_deleted_meanwhile_is_acknowledged(
    namespace: str, private_redis: RedisServer, private_client: Redis, make_worker: MakeWorker
) -> None:
    """As above, but the lost entry was deleted (trimmed) before the reconnect: Redis 6.2's
    XCLAIM returns it as a nil and keeps it pending, 7's drops it. Either way it is
    acknowledged, counted, and the worker goes on reading."""
    stream = f"{namespace}.ticks"
    router, handled = recording_router(stream)
    worker = await make_worker(
        router, group="g", consumer="c1", url=private_redis.url, claim_idle_ms=120_000
    )
    await eventually(worker.health.ready, what="the worker reading")
    async with private_client.pipeline(transaction=True) as pipe:
        pipe.xadd(stream, Tick(n=1).envelope(key="o", version=1).to_fields())
        pipe.xreadgroup("g", "c1", {stream: ">"}, count=1)
        [lost_id, _] = await pipe.execute()
    await private_client.xdel(stream, lost_id)
    await kill_blocked_readers(private_client)

    await Publisher(private_client).publish(stream, Tick(n=2).envelope(key="o", version=2))
    await eventually(lambda: handled == [2], timeout_s=10, what="the next entry handled")
    await wait_all_acked(private_client, stream, "g")
    assert deleted_pending_acked(stream, "g") == 1


async def test_stop_while_redis_is_down_still_returns_within_the_deadline(
    namespace: str, private_redis: RedisServer, private_client: Redis, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.ticks"
    handled: list[int] = []
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        await asyncio.sleep(0.2)
        handled.append(event.n)

    worker = await make_worker(router, group="g", url=private_redis.url)
    await Publisher(private_client).publish_many(
        [(stream, Tick(n=n).envelope(key="o", version=n)) for n in range(10)]
    )
    await eventually(lambda: len(handled) >= 1, what="work under way")
    await asyncio.to_thread(private_redis.kill)
    began = time.monotonic()
    await worker.stop(timeout_s=2.0)
    assert time.monotonic() - began < 2.5


# ---- trimming under a lagging group -------------------------------------------------------


async def test_trimming_never_removes_what_a_lagging_group_has_not_acknowledged(
    namespace: str, redis: Redis, redis_url: str, publisher: Publisher
) -> None:
    stream = f"{namespace}.ticks"
    await redis.xgroup_create(stream, "slow", id="0", mkstream=True)
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        pass

    fast = StreamWorker(
        redis_url=redis_url,
        group="fast",
        consumer="f1",
        router=router,
        settings=fast_settings(),
    )
    async with fast:
        ids = await publisher.publish_many(
            [(stream, Tick(n=n).envelope(key=f"o{n % 3}", version=n)) for n in range(30)]
        )
        await wait_all_acked(redis, stream, "fast")
        # the slow group has read 10 and acknowledged 5 of them; 20 it has not even read
        [(_, read)] = read_reply(await redis.xreadgroup("slow", "s1", {stream: ">"}, count=10))
        assert [entry_id for entry_id, _ in read] == ids[:10]
        await redis.xack(stream, "slow", *ids[:5])

        async def remaining() -> list[str]:
            return [entry_id for entry_id, _ in entries(await redis.xrange(stream))]

        async def trimmed_to(n: int) -> bool:
            return len(await remaining()) <= n

        await eventually(lambda: trimmed_to(25), what="what both groups acknowledged trimmed")
        assert await remaining() == ids[5:]  # the slow group's oldest pending entry on, all kept

        await redis.xack(stream, "slow", *ids[5:10])
        await eventually(lambda: trimmed_to(20), what="trimmed up to the slow group's position")
        assert await remaining() == ids[10:]  # unread by the slow group: all kept

        [(_, rest)] = read_reply(await redis.xreadgroup("slow", "s1", {stream: ">"}))
        await redis.xack(stream, "slow", *[entry_id for entry_id, _ in rest])
        await eventually(lambda: trimmed_to(0), what="everything consumed, everything trimmed")


async def test_nothing_is_trimmed_while_a_required_group_does_not_exist_yet(
    namespace: str, redis: Redis, redis_url: str, publisher: Publisher
) -> None:
    stream = f"{namespace}.ticks"
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        pass

    fast = StreamWorker(
        redis_url=redis_url,
        group="fast",
        consumer="f1",
        router=router,
        settings=fast_settings(),
        required_groups={stream: ["fast", "late"]},
    )
    async with fast:
        await publisher.publish_many(
            [(stream, Tick(n=n).envelope(key="o", version=n)) for n in range(10)]
        )
        await wait_all_acked(redis, stream, "fast")
        await asyncio.sleep(1.0)  # five trim intervals
        assert await redis.xlen(stream) == 10
        # once the late group exists and has consumed everything, trimming resumes
        await redis.xgroup_create(stream, "late", id="$")

        async def empty() -> bool:
            return int(await redis.xlen(stream)) == 0

        await eventually(empty, what="trimmed once every required group consumed")


# ---- graceful stop ------------------------------------------------------------------------


async def test_stop_finishes_or_abandons_in_flight_work_and_loses_nothing(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.ticks"
    finished: set[str] = set()
    started: set[str] = set()
    router = Router()

    @router.subscriber(stream, Tick)
    async def slow_tick(event: Tick, delivery: Delivery) -> None:
        started.add(delivery.entry_id)
        await asyncio.sleep(0.3)
        finished.add(delivery.entry_id)

    worker = await make_worker(router, group="g", consumer="c1")
    ids = await publisher.publish_many(
        [(stream, Tick(n=n).envelope(key=f"o{n % 4}", version=n)) for n in range(20)]
    )
    await eventually(lambda: len(finished) >= 1, what="work under way")
    began = time.monotonic()
    await worker.stop(timeout_s=1.0)
    took = time.monotonic() - began
    assert took < 1.0, f"stop took {took:.2f}s"

    pending = await pending_ids(redis, stream, "g")
    done = set(finished)
    assert done, "nothing finished before the deadline"
    assert pending, "nothing was left in flight: the test proves nothing"
    assert done.isdisjoint(pending), "finished entries must be acknowledged"
    assert done | pending == set(ids), "an entry neither finished nor pending is lost"
    assert started - done <= pending  # cancelled mid-handler: still pending

    handled_next: list[str] = []
    again = Router()

    @again.subscriber(stream, Tick)
    async def quick_tick(event: Tick, delivery: Delivery) -> None:
        handled_next.append(delivery.entry_id)

    await make_worker(again, group="g", consumer="c1")
    await eventually(lambda: len(handled_next) >= len(pending), what="the rest handled")
    await wait_all_acked(redis, stream, "g")
    assert sorted(handled_next) == sorted(pending)


async def test_stop_lets_in_flight_work_finish_when_the_deadline_allows(
    namespace: str, redis: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.ticks"
    started: list[str] = []
    finished: list[str] = []
    router = Router()

    @router.subscriber(stream, Tick)
    async def slow_tick(event: Tick, delivery: Delivery) -> None:
        started.append(delivery.entry_id)
        await asyncio.sleep(0.3)
        finished.append(delivery.entry_id)

    worker = await make_worker(router, group="g", consumer="c1")
    ids = await publisher.publish_many(
        [(stream, Tick(n=n).envelope(key=f"o{n}", version=1)) for n in range(6)]
    )
    await eventually(lambda: len(started) == 6, what="all six in flight")
    assert not finished
    await worker.stop(timeout_s=3.0)
    assert sorted(finished) == sorted(ids)  # none was cut short
    assert not await pending_ids(redis, stream, "g")  # and every one acknowledged


SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    from redis.asyncio import Redis
    from sagakit.lifecycle import run_until_signalled
    from sagakit.routing import Router
    from sagakit.testing.workers import fast_settings
    from sagakit.worker import StreamWorker

    url, stream = sys.argv[1], sys.argv[2]

    async def main() -> None:
        done = Redis.from_url(url, decode_responses=True)
        router = Router()

        async def handle(delivery):
            await asyncio.sleep(0.3)
            await done.sadd(stream + ":done", delivery.entry_id)

        router.add_raw(stream, "test.tick", handle)
        worker = StreamWorker(
            redis_url=url, group="g", consumer="proc", router=router,
            settings=fast_settings(max_in_flight=40, shutdown_timeout_s=1.5),
        )
        await run_until_signalled([worker])
        await done.aclose()

    asyncio.run(main())
    """
)


@pytest.mark.slow
async def test_sigterm_mid_load_exits_promptly_and_loses_nothing(
    namespace: str, redis: Redis, redis_url: str, publisher: Publisher, tmp_path: Path
) -> None:
    stream = f"{namespace}.ticks"
    done_key = stream + ":done"
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    ids = await publisher.publish_many(
        [(stream, Tick(n=n).envelope(key=f"o{n % 10}", version=n)) for n in range(300)]
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        redis_url,
        stream,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def some_done() -> bool:
            return int(await redis.scard(done_key)) >= 15

        await eventually(some_done, timeout_s=15, what="the service working")
        assert proc.returncode is None, "the service died on its own"
        proc.send_signal(signal.SIGTERM)
        began = time.monotonic()
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=10)
        took = time.monotonic() - began
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-3000:]
    assert took < 10

    done = set(await redis.smembers(done_key))
    pending = await pending_ids(redis, stream, "g")
    [group] = await redis.xinfo_groups(stream)
    last = group["last-delivered-id"]
    delivered = {i for i in ids if stream_ids.parse(i) <= stream_ids.parse(last)}
    assert 0 < len(done) < len(ids), "the signal did not land mid-load"
    assert pending, "nothing was in flight at the signal"
    assert done.isdisjoint(pending)
    lost = delivered - done - pending
    assert not lost, f"{len(lost)} entries were delivered, not handled and not pending"

    # the next instance under the same name finishes the job
    remaining: set[str] = set()
    router = Router()

    @router.subscriber(stream, Tick)
    async def finish(event: Tick, delivery: Delivery) -> None:
        remaining.add(delivery.entry_id)

    async with StreamWorker(
        redis_url=redis_url, group="g", consumer="proc", router=router, settings=fast_settings()
    ):
        await eventually(lambda: done | remaining >= set(ids), what="every entry handled")
        await wait_all_acked(redis, stream, "g")
    assert remaining.isdisjoint(done)


def test_health_is_shared_when_passed_in(redis_url: str) -> None:
    router = Router()
    router.add_raw("x", "t", lambda delivery: asyncio.sleep(0))
    health = Health()
    worker = StreamWorker(
        redis_url=redis_url, group="g", consumer="c", router=router, health=health
    )
    assert worker.health is health
