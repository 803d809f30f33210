from __future__ import annotations

from typing import Any, cast

import pytest
from redis.asyncio import Redis

from sagakit.envelope import Message
from sagakit.redis_version import (
    UnsupportedRedis,
    check_version,
    parse_version,
    require_supported_redis,
)
from sagakit.routing import Delivery, Router
from sagakit.worker import StreamWorker


class Job(Message):
    message_type = "test.job"


@pytest.mark.parametrize(
    ("text", "version"),
    [("7.0.15", (7, 0, 15)), ("6.2.14", (6, 2, 14)), ("6.2", (6, 2)), ("10.0.0", (10, 0, 0))],
)
def test_versions_parse_as_numbers(text: str, version: tuple[int, ...]) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize("text", ["", "7.x", "v7.0.1", "7..1"])
def test_anything_else_is_not_a_version(text: str) -> None:
    with pytest.raises(ValueError, match="not a Redis version"):
        parse_version(text)


@pytest.mark.parametrize("text", ["6.2.0", "6.2.14", "7.0.15", "7.4.2", "10.0.1"])
def test_redis_6_2_and_later_are_accepted(text: str) -> None:
    check_version(text)


@pytest.mark.parametrize("text", ["6.0.16", "5.0.14", "6.1.9", "4.0"])
def test_older_servers_are_refused_naming_the_version_found(text: str) -> None:
    with pytest.raises(UnsupportedRedis, match=rf"Redis {text} found; .* needs Redis 6\.2"):
        check_version(text)


def test_an_unreadable_version_is_refused() -> None:
    with pytest.raises(UnsupportedRedis, match="cannot tell"):
        check_version("")


class FakeServer:
    def __init__(self, version: str) -> None:
        self.version = version

    async def info(self, section: str) -> dict[str, Any]:
        assert section == "server"
        return {"redis_version": self.version, "redis_mode": "standalone"}


async def test_the_server_is_asked_its_version() -> None:
    await require_supported_redis(cast(Redis, FakeServer("6.2.14")))
    with pytest.raises(UnsupportedRedis, match=r"Redis 6\.0\.9 found"):
        await require_supported_redis(cast(Redis, FakeServer("6.0.9")))


async def test_a_worker_refuses_to_start_on_an_older_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def info(self: Redis, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await FakeServer("6.0.16").info("server")

    monkeypatch.setattr(Redis, "info", info)
    router = Router()

    @router.subscriber("jobs", Job)
    async def on_job(job: Job, delivery: Delivery) -> None:
        raise AssertionError("nothing may be consumed")

    worker = StreamWorker(redis_url="redis://127.0.0.1:1/0", group="g", consumer="c", router=router)
    with pytest.raises(UnsupportedRedis, match=r"Redis 6\.0\.16 found"):
        await worker.start()
