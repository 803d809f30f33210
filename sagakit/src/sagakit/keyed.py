"""Key-ordered concurrency: items with different keys run in parallel, one key's items in order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sagakit.logs import get_logger

T = TypeVar("T")

log = get_logger("sagakit.keyed")


class KeyedScheduler(Generic[T]):
    """One drain task per active key; a key's queue is consumed strictly in submission order.

    `size` counts submitted items not yet finished, so the caller can apply backpressure.
    """

    def __init__(self, process: Callable[[str, T], Awaitable[None]]) -> None:
        self.process = process  # settable: a worker wires its handler in after building it
        self._queues: dict[str, deque[T]] = {}
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._started: set[str] = set()
        self._size = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()
        self._room.set()
        self.limit: int | None = None

    @property
    def size(self) -> int:
        return self._size

    def submit(self, key: str, item: T) -> None:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._drains[key] = asyncio.create_task(self._drain(key, queue))
        queue.append(item)
        self._size += 1
        self._idle.clear()
        if self.limit is not None and self._size >= self.limit:
            self._room.clear()

    async def wait_for_room(self) -> None:
        await self._room.wait()

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._drains.values())

    def abandon(self) -> int:
        """Cancel every drain; returns how many items were not finished."""
        left = self._size
        for key, task in list(self._drains.items()):
            task.cancel()
            if key not in self._started:
                # Cancelled before its first step, its cleanup below never runs: do it here.
                self._size -= len(self._queues.pop(key))
                del self._drains[key]
        self._signal()
        return left

    async def _drain(self, key: str, queue: deque[T]) -> None:
        self._started.add(key)
        try:
            while queue:
                item = queue[0]
                try:
                    await self.process(key, item)
                except Exception:  # one item's failure must not drop the rest of its key
                    log.exception("keyed item failed", key=key)
                finally:
                    queue.popleft()
                    self._finished_one()
        finally:
            # No await between the emptiness check above and this removal, so an item
            # submitted meanwhile is never stranded in a queue without a drain task.
            self._size -= len(queue)
            queue.clear()
            self._started.discard(key)
            del self._queues[key]
            del self._drains[key]
            self._signal()

    def _finished_one(self) -> None:
        self._size -= 1
        self._signal()

    def _signal(self) -> None:
        if self._size == 0:
            self._idle.set()
        if self.limit is None or self._size < self.limit:
            self._room.set()
