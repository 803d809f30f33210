"""MongoDB killed (-9) and restarted under concurrent writes: the clients `mongo_client` makes
write again soon after the server is back (pymongo's retried write used to livelock the pool)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sagakit.connections import mongo_client
from sagakit.embedded.mongo import EmbeddedMongo
from sagakit.embedded.redis import free_port

pytestmark = pytest.mark.slow

CLIENTS = 4  # one per service, as in `orders-saga up`
WRITERS = 60  # concurrent writers per client (handlers in flight)


async def test_concurrent_writers_recover_soon_after_a_mongodb_restart(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path / "mongo", port=free_port())
    server.start()
    clients = [mongo_client(server.url) for _ in range(CLIENTS)]
    restarted_at: float | None = None
    ok_after_restart = [0] * CLIENTS
    stop = asyncio.Event()

    async def write_forever(index: int) -> None:
        counters = clients[index].db.counters
        while not stop.is_set():
            try:
                await counters.find_one_and_update({"_id": index}, {"$inc": {"n": 1}}, upsert=True)
                if restarted_at is not None:
                    ok_after_restart[index] += 1
            except Exception:  # the server is away, or the pool has not recovered yet
                pass
            await asyncio.sleep(0.02)

    writers = [
        asyncio.create_task(write_forever(i)) for i in range(CLIENTS) for _ in range(WRITERS)
    ]
    try:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)
        restarted_at = time.monotonic()
        # Every client writes again well within the 30 s a saga step may wait; with the pool
        # livelock, writes kept failing for 25-40 s while the load lasted.
        deadline = restarted_at + 10
        while min(ok_after_restart) < WRITERS:
            assert time.monotonic() < deadline, f"writes after the restart: {ok_after_restart}"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*writers)
        for client in clients:
            await client.close()
        server.stop()
