"""Entries that are not UTF-8: dead-lettered at once, whichever way they reach the worker (first
read, recovery of its own pending entries after a restart, claim from a dead consumer), and
the entries after them are handled."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from sagakit.dead_letters import DeadLetter, DeadLetters
from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.replies import read_reply
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker

pytestmark = pytest.mark.every_redis_version

# What any client may XADD: a value, a field name, and an otherwise valid-looking entry.
GARBAGE: list[dict[bytes, bytes]] = [
    {b"garbage": b"\xff\xfe"},
    {b"\xc3\x28name": b"value", b"payload": b"{}"},
    {b"id": b"e-1", b"type": b"test.job", b"key": b"\xed\xa0\x80", b"payload": b"{}"},
]


class Job(Message):
    message_type = "test.job"
    n: int


@pytest_asyncio.fixture
async def raw(redis_url: str) -> AsyncIterator[Redis]:
    """A client that does not decode, as a foreign producer or a crashed consumer uses."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def recording_router(stream: str) -> tuple[Router, list[int]]:
    seen: list[int] = []
    router = Router()

    @router.subscriber(stream, Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        seen.append(job.n)

    return router, seen


async def add_garbage(raw: Redis, stream: str) -> list[str]:
    return [(await raw.xadd(stream, fields)).decode() for fields in GARBAGE]  # type: ignore[arg-type]


async def read_and_die(raw: Redis, stream: str, consumer: str) -> None:
    """What a consumer that crashed right after reading leaves behind: entries in its PEL."""
    await raw.xgroup_create(stream, "g", id="0", mkstream=True)
    [(_, taken)] = read_reply(await raw.xreadgroup("g", consumer, {stream: ">"}))
    assert len(taken) == len(GARBAGE)


async def dead_lettered_garbage(redis: Redis, stream: str, ids: list[str]) -> dict[str, DeadLetter]:
    dead = DeadLetters(redis)

    async def all_there() -> bool:
        return await dead.count(stream) >= len(ids)

    await eventually(all_there, what="the garbage dead-lettered")
    letters = {letter.original_id: letter for letter in await dead.list(stream)}
    assert set(letters) == set(ids)
    assert {letter.reason for letter in letters.values()} == {"undecodable"}
    return letters


async def handled_after(publisher: Publisher, stream: str, seen: list[int]) -> None:
    await publisher.publish(stream, Job(n=1).envelope(key="o", version=1))
    await eventually(lambda: seen == [1], what="a valid entry after the garbage handled")


async def nothing_pending(redis: Redis, stream: str) -> None:
    async def empty() -> bool:
        return int((await redis.xpending(stream, "g"))["pending"]) == 0

    await eventually(empty, what="nothing pending")


async def test_garbage_is_dead_lettered_on_first_read_and_replays_byte_for_byte(
    namespace: str, redis: Redis, raw: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    router, seen = recording_router(stream)
    worker = await make_worker(router, group="g")
    await eventually(worker.health.ready, what="the worker reading")
    ids = await add_garbage(raw, stream)

    letters = await dead_lettered_garbage(redis, stream, ids)
    await handled_after(publisher, stream, seen)
    await nothing_pending(redis, stream)
    assert letters[ids[0]].fields == {"garbage": "\\xff\\xfe"}  # readable in a listing
    assert letters[ids[1]].as_dict()["fields"] == {"\\xc3(name": "value", "payload": "{}"}
    assert worker.health.ready()

    # replay appends the original bytes back (where the group dead-letters them again)
    await worker.stop()
    last = (await raw.xrevrange(stream, count=1))[0][0].decode()
    assert await DeadLetters(redis).replay(stream) == len(GARBAGE)
    appended = await raw.xrange(stream, min="(" + last, max="+")
    assert sorted(map(sorted_items, (fields for _, fields in appended))) == sorted(
        map(sorted_items, GARBAGE)
    )


def sorted_items(fields: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return sorted(fields.items())


async def test_garbage_pending_for_this_name_is_dead_lettered_on_restart(
    namespace: str, redis: Redis, raw: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    ids = await add_garbage(raw, stream)
    await read_and_die(raw, stream, "c1")
    router, seen = recording_router(stream)
    # the claim threshold is far away: only the restart's re-read of its own PEL can do this
    await make_worker(router, group="g", consumer="c1", claim_idle_ms=60_000)

    await dead_lettered_garbage(redis, stream, ids)
    await handled_after(publisher, stream, seen)
    await nothing_pending(redis, stream)


async def test_garbage_left_by_a_dead_consumer_is_dead_lettered_by_the_claimer(
    namespace: str, redis: Redis, raw: Redis, publisher: Publisher, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.jobs"
    ids = await add_garbage(raw, stream)
    await read_and_die(raw, stream, "dead")
    # idle long enough to be claimed (IDLE, JUSTID: no extra delivery counted)
    await raw.xclaim(
        stream, "g", "dead", min_idle_time=0, message_ids=ids, idle=60_000, justid=True
    )
    router, seen = recording_router(stream)
    await make_worker(router, group="g", consumer="alive")

    await dead_lettered_garbage(redis, stream, ids)
    await handled_after(publisher, stream, seen)
    await nothing_pending(redis, stream)
