"""The consumer-group worker: one per (service, group), over every stream its router subscribes to.

It wires the parts, each in a module of its own, and owns their lifecycle:

- `reading.ReadLoop`: XREADGROUP COUNT/BLOCK on a dedicated connection, recovery after start
  and reconnect, NOGROUP and lost connections;
- `intake.Intake`: entries become work for the key-ordered scheduler (`keyed.KeyedScheduler`),
  or give-ups for the dead-letter stream;
- `handling.Handling`: the handler under a timeout, acknowledged through the pipelined `Acker`;
- `retries.RetryPolicy`: what a failure leads to: wait it out, retry, or dead-letter;
- `claiming.Claimer`: renewing held entries and claiming idle ones (XAUTOCLAIM);
- `housekeeping.Housekeeping`: gauges, trimming, idle consumer removal.

`stop()` stops reading, lets in-flight work finish until a deadline, abandons the rest (it
stays pending and is reclaimed), flushes acks and closes its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence

from sagakit.acks import Acker
from sagakit.claiming import Claimer
from sagakit.connections import TRANSIENT_ERRORS, redis_client
from sagakit.consumer import ConsumerState
from sagakit.dead_letters import DeadLetters
from sagakit.dependencies import DependencyCheck
from sagakit.early import EarlyArrivals
from sagakit.handling import Handling
from sagakit.health import Health
from sagakit.housekeeping import Housekeeping
from sagakit.intake import Intake, Work
from sagakit.keyed import KeyedScheduler
from sagakit.lifecycle import cancel_and_wait
from sagakit.logs import get_logger
from sagakit.reading import CONNECTION_ERRORS, ReadLoop
from sagakit.redis_version import require_supported_redis
from sagakit.retries import RetryPolicy
from sagakit.routing import Router
from sagakit.settings import WorkerSettings

log = get_logger("sagakit.worker")


class StreamWorker:
    def __init__(
        self,
        *,
        redis_url: str,
        group: str,
        consumer: str,
        router: Router,
        settings: WorkerSettings | None = None,
        health: Health | None = None,
        required_groups: Mapping[str, Sequence[str]] | None = None,
        trim: bool = True,
        dependencies: DependencyCheck | None = None,
    ) -> None:
        """`dependencies`: what a failing handler's dependencies are (by default this worker's
        Redis only); a failure is waited out, uncounted, only while one of them is down."""
        self.group = group
        self.consumer = consumer
        self.streams = router.streams
        if not self.streams:
            raise ValueError("the router subscribes to no stream")
        settings = settings or WorkerSettings()
        redis = redis_client(redis_url)
        self._state = ConsumerState(
            group=group,
            consumer=consumer,
            streams=self.streams,
            settings=settings,
            redis=redis,
            reader=redis_client(
                redis_url, socket_timeout=settings.socket_timeout_s(), max_connections=2
            ),
            acker=Acker(redis, group),
            health=health or Health(),
        )
        self._scheduler: KeyedScheduler[Work] = KeyedScheduler(_not_wired)
        self._scheduler.limit = settings.max_in_flight
        intake = Intake(self._state, self._scheduler)
        if dependencies is None:
            dependencies = DependencyCheck(
                {"redis": redis.ping}, timeout_s=settings.dependency_ping_timeout_s
            )
        retries = RetryPolicy(self._state, intake, DeadLetters(redis), dependencies)
        self._early = EarlyArrivals(self._state, self._scheduler)
        self._handling = Handling(self._state, router, retries, self._early)
        self._scheduler.process = self._handling.process  # the parts above needed the scheduler
        self._read_loop = ReadLoop(self._state, intake, self._scheduler)
        self._claimer = Claimer(self._state, intake, self._scheduler)
        self._housekeeping = Housekeeping(
            self._state, required_groups=required_groups or {}, trim=trim
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._reading: asyncio.Task[None] | None = None
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the parts; refuse (UnsupportedRedis) a reachable server older than Redis 6.2.

        An unreachable one is the read loop's to wait for; it checks the version on connecting.
        """
        state = self._state
        with contextlib.suppress(*TRANSIENT_ERRORS):
            await require_supported_redis(state.redis)
        state.health.set(state.health_name, False, "starting")
        self._reading = asyncio.create_task(self._read_loop.run(), name=f"{self.group}:read")
        self._tasks = [
            self._reading,
            asyncio.create_task(state.acker.run(), name=f"{self.group}:ack"),
            asyncio.create_task(self._claimer.run(), name=f"{self.group}:claim"),
            asyncio.create_task(self._housekeeping.run(), name=f"{self.group}:maintenance"),
        ]

    async def stop(self, timeout_s: float | None = None) -> None:
        """Stop reading, finish in-flight work until the deadline, flush acks, close."""
        if self._stopping:
            return
        self._stopping = self._read_loop.stopping = self._claimer.stopping = True
        state = self._state
        deadline = time.monotonic() + (timeout_s or state.settings.shutdown_timeout_s)
        state.health.set(state.health_name, False, "stopping")
        if self._reading is not None:
            await self._stop_reading()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic() - 0.5)):
                await self._scheduler.wait_idle()
        abandoned = self._scheduler.abandon() + self._early.abandon()
        await cancel_and_wait(self._scheduler.tasks())
        if abandoned:
            log.warning(
                "abandoned in-flight entries; they stay pending", count=abandoned, group=self.group
            )
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(*CONNECTION_ERRORS):
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                await state.acker.flush()
        await state.reader.aclose()
        await state.redis.aclose()

    async def _stop_reading(self) -> None:
        """End the read loop without cancelling a blocking read.

        redis-py can hang when a blocking command is cancelled (redis/redis-py#2579, #2663), so
        the reader's socket is closed instead: the read returns at once with a connection
        error, and the loop, seeing that it is stopping, ends by itself.
        """
        assert self._reading is not None
        with contextlib.suppress(Exception):
            await self._state.reader.connection_pool.disconnect()
        done, _ = await asyncio.wait(
            {self._reading}, timeout=self._state.settings.block_ms / 1000 + 1
        )
        if not done:
            await cancel_and_wait([self._reading])

    async def __aenter__(self) -> StreamWorker:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def in_flight(self) -> int:
        return self._scheduler.size

    @property
    def health(self) -> Health:
        """The readiness this worker reports into (the one passed in, or its own)."""
        return self._state.health


async def _not_wired(key: str, work: Work) -> None:
    raise RuntimeError("the scheduler runs work before the worker wired its handling in")
