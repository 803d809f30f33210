"""Dead letters stay bounded (trimmed by age and length) and are replayed exactly once."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from sagakit import stream_ids
from sagakit.connections import redis_client
from sagakit.dead_letters import DeadLetters, dlq_stream
from sagakit.routing import Delivery, Router
from sagakit.testing.waiting import eventually
from sagakit.testing.workers import MakeWorker

DAY_MS = 24 * 3600 * 1000


async def redis_now_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def dead_letter(dead: DeadLetters, stream: str, n: int) -> None:
    await dead.send(
        stream=stream,
        group="g",
        entry_id=f"{n + 1}-0",
        fields={"n": str(n)},
        reason="max_deliveries",
        error="boom",
        deliveries=5,
    )


async def test_concurrent_replays_append_each_dead_letter_once(
    namespace: str, redis_url: str, redis: Redis
) -> None:
    stream = f"{namespace}.payments"
    dead = DeadLetters(redis)
    for n in range(300):
        await dead_letter(dead, stream, n)
    first, second = redis_client(redis_url), redis_client(redis_url)
    try:
        moved = await asyncio.gather(
            DeadLetters(first).replay(stream), DeadLetters(second).replay(stream)
        )
    finally:
        await first.aclose()
        await second.aclose()
    appended = [fields["n"] for _, fields in await redis.xrange(stream)]
    assert sorted(appended, key=int) == [str(n) for n in range(300)]
    assert sum(moved) == 300
    assert await dead.count(stream) == 0


async def test_trim_drops_dead_letters_older_than_the_age_by_redis_time(
    namespace: str, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = f"{namespace}.payments"
    now = await redis_now_ms(redis)
    old = [now - 9 * DAY_MS, now - 8 * DAY_MS]
    young = [now - 6 * DAY_MS, now - DAY_MS]
    for ms in old + young:
        await redis.xadd(dlq_stream(stream), {"fields": "{}"}, id=stream_ids.format_id(ms, 0))
    # This node's clock is a year ahead: only Redis' clock may decide what is old.
    ahead_s = 365 * 24 * 3600
    real_time, real_time_ns = time.time, time.time_ns
    monkeypatch.setattr(time, "time", lambda: real_time() + ahead_s)
    monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() + ahead_s * 10**9)

    dropped = await DeadLetters(redis).trim(stream, max_age_ms=7 * DAY_MS, max_len=100)

    left = [stream_ids.parse(entry_id)[0] for entry_id, _ in await redis.xrange(dlq_stream(stream))]
    assert left == young
    assert dropped == 2


async def test_trim_keeps_at_most_the_newest_max_len_dead_letters(
    namespace: str, redis: Redis
) -> None:
    stream = f"{namespace}.payments"
    dead = DeadLetters(redis)
    for n in range(5):
        await dead_letter(dead, stream, n)

    assert await dead.trim(stream, max_age_ms=DAY_MS, max_len=2) == 3

    assert [letter.fields["n"] for letter in await dead.list(stream)] == ["3", "4"]


async def test_workers_trim_their_dead_letter_streams(
    namespace: str, redis: Redis, make_worker: MakeWorker
) -> None:
    stream = f"{namespace}.payments"
    router = Router()

    async def never_called(_: Delivery) -> None:
        raise AssertionError("no entry is an envelope")

    router.add_raw(stream, "test.nothing", never_called)
    for n in range(6):  # not envelopes: each goes to the dead letters at once
        await redis.xadd(stream, {"junk": str(n)})
    await make_worker(router, group="g", dlq_max_len=2)
    dead = DeadLetters(redis)

    async def trimmed_to_the_newest_two() -> bool:
        letters = await dead.list(stream)
        return [letter.fields["junk"] for letter in letters] == ["4", "5"]

    await eventually(trimmed_to_the_newest_two, what="the dead letters trimmed to two")
