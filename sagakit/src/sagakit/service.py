"""What every service process holds: connections, publisher, health, and its components.

runtime = ServiceRuntime("orders", ConnectionSettings(), WorkerSettings())
runtime.on_startup(store.ensure_indexes)
runtime.consume(router, group="orders")
runtime.add(DeadlineScheduler(...))
await runtime.start() ... await runtime.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from sagakit.backoff import Backoff
from sagakit.clock_sync import ClockSync
from sagakit.connections import mongo_client, redis_client
from sagakit.dead_letters import DeadLetters
from sagakit.dependencies import DependencyCheck, Ping
from sagakit.health import Health
from sagakit.lifecycle import Component, Periodic
from sagakit.logs import describe, get_logger
from sagakit.publisher import Publisher
from sagakit.routing import Router
from sagakit.settings import ConnectionSettings, WorkerSettings
from sagakit.worker import StreamWorker

log = get_logger("sagakit.service")


class ServiceRuntime:
    def __init__(
        self,
        name: str,
        connections: ConnectionSettings,
        worker_settings: WorkerSettings | None = None,
        *,
        probe_interval_s: float = 2.0,
        uses_mongo: bool = True,
    ) -> None:
        self.name = name
        # A Redis-only process (the simulator's actors) must not be unready for lack of MongoDB;
        # its client is created lazily and never connects.
        self.uses_mongo = uses_mongo
        self.connections = connections
        self.worker_settings = worker_settings or WorkerSettings()
        self.health = Health()
        self.redis = redis_client(connections.redis_url)
        self.mongo = mongo_client(connections.mongo_url)
        self.db: AsyncDatabase[dict[str, Any]] = self.mongo[connections.mongo_db]
        self.publisher = Publisher(self.redis)
        self.dead_letters = DeadLetters(self.redis)
        # One check for readiness and for every worker's failures: through the clients the
        # handlers use, so their pools and this event loop are part of what it measures.
        self.dependencies = DependencyCheck(
            self._pings(), timeout_s=self.worker_settings.dependency_ping_timeout_s
        )
        self.workers: list[StreamWorker] = []
        # The clock comes first: every time this process writes or compares for others is
        # the Redis server's (clock.py), so nothing starts before one sync has succeeded.
        self.clock_sync = ClockSync(self.redis.time, name=f"{name}:clock")
        self._components: list[Component] = [
            self.clock_sync,
            Periodic(f"{name}:probe", self._probe, probe_interval_s),
        ]
        self._startup: list[Callable[[], Awaitable[object]]] = [self.clock_sync.sync]
        self._started: list[Component] = []

    def on_startup(self, hook: Callable[[], Awaitable[object]]) -> None:
        """Run before the components start (indexes, seed data), after the clock's first sync;
        retried until servers answer."""
        self._startup.append(hook)

    def add(self, component: Component) -> None:
        self._components.append(component)

    def consume(
        self,
        router: Router,
        *,
        group: str,
        required_groups: Mapping[str, Sequence[str]] | None = None,
    ) -> StreamWorker:
        worker = StreamWorker(
            redis_url=self.connections.redis_url,
            group=group,
            consumer=self.connections.consumer_name,
            router=router,
            settings=self.worker_settings,
            health=self.health,
            required_groups=required_groups,
            dependencies=self.dependencies,
        )
        self.workers.append(worker)
        self._components.append(worker)
        return worker

    async def start(self, *, startup_timeout_s: float = 60.0) -> None:
        await self._run_startup_hooks(startup_timeout_s)
        for component in self._components:
            await component.start()
            self._started.append(component)
        log.info("service started", service=self.name)

    async def stop(self, timeout_s: float = 9.0) -> None:
        deadline = time.monotonic() + timeout_s
        for component in reversed(self._started):
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await component.stop()
            except TimeoutError:
                log.warning("component did not stop in time", component=type(component).__name__)
        self._started.clear()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        with contextlib.suppress(Exception):
            await self.mongo.close()
        log.info("service stopped", service=self.name)

    async def _run_startup_hooks(self, timeout_s: float) -> None:
        backoff = Backoff(base_s=0.2, cap_s=3.0)
        deadline = time.monotonic() + timeout_s
        for hook in self._startup:
            attempt = 0
            while True:
                try:
                    await hook()
                    break
                except Exception as exc:
                    attempt += 1
                    if time.monotonic() > deadline:
                        raise
                    log.warning(
                        "startup step failed, retrying",
                        service=self.name,
                        step=getattr(hook, "__qualname__", repr(hook)),
                        error=describe(exc),
                    )
                    await asyncio.sleep(backoff.delay(attempt))

    def _pings(self) -> dict[str, Ping]:
        pings: dict[str, Ping] = {"redis": self.redis.ping}
        if self.uses_mongo:
            pings["mongo"] = lambda: self.mongo.admin.command("ping")
        return pings

    async def _probe(self) -> None:
        down = await self.dependencies.down()
        for name in self.dependencies.names:
            self.health.set(name, name not in down, down.get(name, ""))
