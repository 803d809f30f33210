"""Running components together and stopping them cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from sagakit.backoff import Backoff
from sagakit.logs import describe, get_logger

log = get_logger("sagakit.lifecycle")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until they are done, cancelling again any that swallowed it.

    A cancellation can be lost inside a client library: on Python 3.11 `asyncio.wait_for`
    (used by redis-py) and pymongo's async client have been seen to absorb one that lands as
    their operation completes, and a loop task would then run on. So cancel until done.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.warning("task failed", task=task.get_name(), error=describe(task.exception()))


class Component(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Periodic:
    """Runs `job` every `interval_s` (outbox sweeps, refills); a failure is logged and retried."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self._job = job
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _loop(self) -> None:
        failures = 0
        backoff = Backoff(base_s=min(self._interval_s, 1.0), cap_s=max(self._interval_s, 5.0))
        while True:
            try:
                await self._job()
                failures = 0
                await asyncio.sleep(self._interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("periodic job failed", job=self.name, error=describe(exc))
                await asyncio.sleep(backoff.delay(failures))


async def run_until_signalled(
    components: Sequence[Component], *, shutdown_timeout_s: float = 9.0
) -> None:
    """Start the components in order, wait for SIGTERM or SIGINT, stop them in reverse order.

    Stopping is bounded: each component gets what is left of `shutdown_timeout_s`.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Component] = []
    try:
        for component in components:
            await component.start()
            started.append(component)
        await stop.wait()
        log.info("stopping", components=len(started))
    finally:
        deadline = time.monotonic() + shutdown_timeout_s
        for component in reversed(started):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                async with asyncio.timeout(remaining):
                    await component.stop()
            except TimeoutError:
                log.warning("component did not stop in time", component=type(component).__name__)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
