"""Bus throughput: our consumer-group worker against a naive one-message-at-a-time loop.

Both consume the same backlog of N envelopes (spread over many keys) with a no-op handler in
this one process, against the same Redis: read, decode, dispatch, acknowledge. The naive loop
is what most hand-written consumers look like: XREADGROUP COUNT 1, handle, XACK, repeat.

    uv run python bench/bus.py [--events 200000] [--keys 1000]

Uses REDIS_URL when set, else starts a private redis-server (no persistence) for the run.
The last line is `bus: <N> events/s, naive <M> events/s, ratio <R>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from redis.asyncio import Redis

from sagakit.connections import redis_client
from sagakit.embedded.redis import RedisServer
from sagakit.envelope import Envelope, Message
from sagakit.routing import Delivery, Router
from sagakit.settings import WorkerSettings
from sagakit.worker import StreamWorker


class Tick(Message):
    message_type = "bench.tick"
    n: int


async def fill(redis: Redis, stream: str, events: int, keys: int) -> float:
    started = time.perf_counter()
    batch = 1000
    for offset in range(0, events, batch):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(offset, min(offset + batch, events)):
                envelope = Tick(n=n).envelope(key=f"order-{n % keys}", version=n)
                pipe.xadd(stream, envelope.to_fields())  # type: ignore[arg-type]
            await pipe.execute()
    return events / (time.perf_counter() - started)


async def run_worker(url: str, stream: str, events: int) -> float:
    redis = redis_client(url)
    handled = 0
    done = asyncio.Event()
    router = Router()

    @router.subscriber(stream, Tick)
    async def on_tick(event: Tick, delivery: Delivery) -> None:
        nonlocal handled
        handled += 1
        if handled == events:
            done.set()

    worker = StreamWorker(
        redis_url=url,
        group="bench",
        consumer="bench-1",
        router=router,
        settings=WorkerSettings(batch_size=500, max_in_flight=2000, block_ms=1000),
        trim=False,
    )
    started = time.perf_counter()
    await worker.start()
    await done.wait()
    while (await redis.xpending(stream, "bench"))["pending"]:  # noqa: ASYNC110 (polls Redis)
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await worker.stop()
    await redis.aclose()
    return events / elapsed


async def run_naive(url: str, stream: str, events: int) -> float:
    redis = redis_client(url)
    await redis.xgroup_create(stream, "naive", id="0")
    handled = 0

    async def handle(envelope: Envelope) -> None:
        Tick.from_envelope(envelope)

    started = time.perf_counter()
    while handled < events:
        reply = await redis.xreadgroup("naive", "naive-1", {stream: ">"}, count=1, block=1000)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                await handle(Envelope.from_fields(fields))
                await redis.xack(stream, "naive", entry_id)
                handled += 1
    elapsed = time.perf_counter() - started
    await redis.aclose()
    return events / elapsed


async def main(url: str, events: int, naive_events: int, keys: int) -> None:
    redis = redis_client(url)
    stream = f"bench.bus.{uuid.uuid4().hex[:8]}"
    naive_stream = f"{stream}.naive"
    try:
        publish_rate = await fill(redis, stream, events, keys)
        await fill(redis, naive_stream, naive_events, keys)
        ours = await run_worker(url, stream, events)
        naive = await run_naive(url, naive_stream, naive_events)
    finally:
        await redis.delete(stream, naive_stream)
        await redis.aclose()
    print(f"publish (pipelined XADD): {publish_rate:,.0f} events/s")
    print(f"bus: {ours:.0f} events/s, naive {naive:.0f} events/s, ratio {ours / naive:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=1_000)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = os.environ.get("REDIS_URL")
        if not url:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-redis-")))
            url = stack.enter_context(RedisServer(tmp)).url
        asyncio.run(main(url, args.events, args.naive_events, args.keys))
