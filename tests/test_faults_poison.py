"""Binary garbage in every stream of a running system, then `kill -9` of everything and a
restart: each group dead-letters the garbage (reason `undecodable`) instead of failing every
read that returns it, new orders complete, and `orders-saga dlq list` shows the garbage."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from .invariants import TERMINAL, place, until_terminal
from .system import CLI, FAST_ACTORS, System, wait_ready

pytestmark = pytest.mark.slow

GARBAGE = {b"garbage": b"\xff\xfe binary", b"\xc3\x28": b"bad name"}


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    running = System(tmp_path / "data", env={**FAST_ACTORS}, args=("--processes",))
    yield running
    running.stop()


async def add_garbage_to_every_stream(redis_url: str) -> dict[str, str]:
    """XADD the garbage to each stream (not the dead-letter ones); stream -> entry id."""
    raw = Redis.from_url(redis_url)
    try:
        streams = [
            key.decode()
            async for key in raw.scan_iter(_type="stream")
            if not key.startswith(b"dlq.")
        ]
        assert streams, "the running system has no streams yet"
        return {s: (await raw.xadd(s, GARBAGE)).decode() for s in streams}  # type: ignore[arg-type]
    finally:
        await raw.aclose()


def dlq_list(data_dir: Path) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MONGO_URL")}
    result = subprocess.run(
        [str(CLI), "dlq", "list", "--limit", "1000"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "ORDERS_SAGA_DATA_DIR": str(data_dir)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return listed


async def test_garbage_in_every_stream_survives_kill_9_and_restart(system: System) -> None:
    system.start()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        garbage = await add_garbage_to_every_stream(system.runtime()["redis_url"])
    system.kill_process_group()  # before or after the groups read it: either must work

    system.start()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        orders = {}
        for n in range(3):
            created = (await place(client, 1000 + n)).json()
            orders[created["id"]] = created["tracking_token"]
        views = await until_terminal(client, orders, timeout_s=60)
    assert all(view["status"] in TERMINAL for view in views.values())

    letters = dlq_list(system.data_dir)
    undecodable = {
        (str(x["stream"]), str(x["original_id"])) for x in letters if x["reason"] == "undecodable"
    }
    assert undecodable == set(garbage.items())
    shown = next(x for x in letters if x["reason"] == "undecodable")
    assert shown["fields"] == {"garbage": "\\xff\\xfe binary", "\\xc3(": "bad name"}
