from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from sagakit.acks import Acker


class FakePipeline:
    def __init__(self, redis: FakeRedis) -> None:
        self._redis = redis
        self._calls: list[tuple[str, str, tuple[str, ...]]] = []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        pass

    def xack(self, stream: str, group: str, *ids: str) -> None:
        self._calls.append((stream, group, ids))

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        await self._redis.gate.wait()
        if self._redis.fail_with is not None:
            raise self._redis.fail_with
        results: list[Any] = []
        for stream, _, ids in self._calls:
            if stream in self._redis.reject:
                results.append(self._redis.reject[stream])
            else:
                self._redis.acked.extend((stream, i) for i in ids)
                results.append(len(ids))
        return results


class FakeRedis:
    def __init__(self) -> None:
        self.acked: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_with: Exception | None = None
        self.reject: dict[str, Exception] = {}

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)


async def test_one_flush_sends_everything_buffered() -> None:
    redis = FakeRedis()
    acker = Acker(redis, "g")  # type: ignore[arg-type]
    acker.ack("a", "1-0")
    acker.ack("b", "2-0")
    acker.ack("a", "3-0")
    assert acker.buffered == 3
    assert await acker.flush()
    assert sorted(redis.acked) == [("a", "1-0"), ("a", "3-0"), ("b", "2-0")]
    assert acker.buffered == 0


async def test_acks_survive_a_lost_connection() -> None:
    redis = FakeRedis()
    redis.fail_with = RedisConnectionError("gone")
    acker = Acker(redis, "g")  # type: ignore[arg-type]
    acker.ack("a", "1-0")
    assert not await acker.flush()
    assert acker.buffered == 1
    redis.fail_with = None
    assert await acker.flush()
    assert redis.acked == [("a", "1-0")]


async def test_acks_for_a_missing_group_are_dropped_other_errors_retried() -> None:
    redis = FakeRedis()
    redis.reject = {"gone": ResponseError("NOGROUP no such group"), "odd": ResponseError("LOADING")}
    acker = Acker(redis, "g")  # type: ignore[arg-type]
    acker.ack("gone", "1-0")
    acker.ack("odd", "2-0")
    acker.ack("ok", "3-0")
    assert not await acker.flush()
    assert acker.buffered == 1  # only the one worth retrying
    redis.reject = {}
    assert await acker.flush()
    assert sorted(redis.acked) == [("odd", "2-0"), ("ok", "3-0")]


async def test_a_flush_cancelled_midway_keeps_its_acks_for_the_final_flush() -> None:
    """What stop() does: cancel the ack task (maybe mid-flush), then flush once more."""
    redis = FakeRedis()
    redis.gate.clear()  # the round trip hangs
    acker = Acker(redis, "g")  # type: ignore[arg-type]
    runner = asyncio.create_task(acker.run())
    acker.ack("a", "1-0")
    acker.ack("a", "2-0")
    await asyncio.sleep(0.01)  # the runner took the batch and is waiting on Redis
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    redis.gate.set()
    assert await acker.flush()
    assert redis.acked == [("a", "1-0"), ("a", "2-0")]
