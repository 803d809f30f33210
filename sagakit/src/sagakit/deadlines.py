"""Durable deadlines: a due date stored in the document it concerns, fired at least once.

A saga step sets `deadline_at` (indexed, epoch milliseconds) in the same guarded write that
enters the step, and the write that leaves the step replaces or removes it, so the deadline
lives and dies with the state it guards and no separate timer can be lost. The scheduler
polls for due documents and calls `on_due(doc)`, whose guarded transition makes a late or
repeated firing harmless. A deadline is removed only after `on_due` has returned, and only if
it still holds the value that fired: a crash of any process before that leaves it due, and
the next poll (here or in another replica) fires it again.

A handler that failed is fired again after a backoff, remembered per document in
`_retry_after`. That memory is bounded: a poll that saw every due document forgets the
documents no longer due (handled or moved by another replica), and beyond `max_retrying`
entries the oldest are forgotten (such a document is then only fired again sooner).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.errors import PyMongoError

from sagakit.backoff import Backoff
from sagakit.clock import now_ms
from sagakit.health import Health
from sagakit.lifecycle import cancel_and_wait
from sagakit.logs import describe, get_logger
from sagakit.metrics import DEADLINES_FIRED
from sagakit.outbox import Collection, Document

log = get_logger("sagakit.deadlines")

DEADLINE_AT = "deadline_at"
OnDue = Callable[[Document], Awaitable[None]]


class DeadlineScheduler:
    def __init__(
        self,
        collection: Collection,
        on_due: OnDue,
        *,
        field: str = DEADLINE_AT,
        poll_interval_s: float = 0.2,
        idle_poll_s: float = 1.0,
        batch: int = 200,
        concurrency: int = 50,
        max_retrying: int = 10_000,
        health: Health | None = None,
    ) -> None:
        self.collection = collection
        self._on_due = on_due
        self._field = field
        self._poll_interval_s = poll_interval_s
        self._idle_poll_s = max(idle_poll_s, poll_interval_s)
        self._next_poll_s = poll_interval_s
        self._batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self._health = health or Health()
        self._health_name = f"deadlines:{collection.name}"
        self._firing: dict[Any, asyncio.Task[None]] = {}
        self._retry_after: dict[Any, tuple[float, int]] = {}
        self._max_retrying = max_retrying
        self._backoff = Backoff(base_s=0.2, cap_s=10.0)
        self._loop: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(self._field, sparse=True)

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._poll_loop(), name=self._health_name)

    async def stop(self, timeout_s: float = 5.0) -> None:
        if self._loop is not None:
            await cancel_and_wait([self._loop])
        if self._firing:
            _, still_running = await asyncio.wait(list(self._firing.values()), timeout=timeout_s)
            # left due in the database: they fire again after a restart
            await cancel_and_wait(still_running)

    async def fire_due(self) -> int:
        """One poll: start `on_due` for every due document not already firing."""
        now = now_ms()
        horizon_ms = int(self._idle_poll_s * 1000)
        started = seen = 0
        next_due_ms = now + horizon_ms
        due: set[Any] = set()
        cursor = (
            self.collection.find({self._field: {"$lte": now + horizon_ms}})
            .sort(self._field, 1)
            .limit(self._batch)
        )
        async for doc in cursor:
            seen += 1
            if doc[self._field] > now:  # coming soon: poll again when it is due
                next_due_ms = min(next_due_ms, int(doc[self._field]))
                continue
            doc_id = doc["_id"]
            due.add(doc_id)
            if doc_id in self._firing or self._waiting_to_retry(doc_id):
                continue
            self._firing[doc_id] = asyncio.create_task(self._fire(doc))
            started += 1
        if seen < self._batch:  # every due document was seen
            self._forget_retries_except(due)
        if due or seen >= self._batch:
            self._next_poll_s = self._poll_interval_s  # busy: as often as allowed
        else:
            wait_s = (next_due_ms - now) / 1000
            self._next_poll_s = min(max(wait_s, self._poll_interval_s), self._idle_poll_s)
        return started

    @property
    def retrying(self) -> int:
        """How many documents wait to be fired again after a failed handler."""
        return len(self._retry_after)

    def _forget_retries_except(self, due: set[Any]) -> None:
        for doc_id in [d for d in self._retry_after if d not in due and d not in self._firing]:
            del self._retry_after[doc_id]

    async def _poll_loop(self) -> None:
        failures = 0
        while True:
            try:
                await self.fire_due()
                failures = 0
                self._health.set(self._health_name, True)
                await asyncio.sleep(self._next_poll_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self._health.set(self._health_name, False, f"cannot poll deadlines: {exc!r}")
                log.warning("deadline poll failed", error=describe(exc))
                await asyncio.sleep(self._backoff.delay(failures))

    def _waiting_to_retry(self, doc_id: Any) -> bool:
        retry = self._retry_after.get(doc_id)
        return retry is not None and time.monotonic() < retry[0]

    async def _fire(self, doc: Document) -> None:
        doc_id = doc["_id"]
        try:
            async with self._slots:
                await self._on_due(doc)
                # The handler normally moved or removed the deadline; if it is still the one
                # that fired, it is spent.
                await self.collection.update_one(
                    {"_id": doc_id, self._field: doc[self._field]},
                    {"$unset": {self._field: ""}},
                )
            DEADLINES_FIRED.labels(self.collection.name).inc()
            self._retry_after.pop(doc_id, None)
        except asyncio.CancelledError:
            raise
        except (Exception, PyMongoError) as exc:
            attempts = self._retry_after.pop(doc_id, (0.0, 0))[1] + 1
            delay = self._backoff.delay(attempts)
            self._retry_after[doc_id] = (time.monotonic() + delay, attempts)  # now the newest
            while len(self._retry_after) > self._max_retrying:
                del self._retry_after[next(iter(self._retry_after))]
            log.warning(
                "deadline handler failed; will fire again",
                doc_id=str(doc_id),
                attempt=attempts,
                retry_in_s=round(delay, 2),
                error=describe(exc),
            )
        finally:
            self._firing.pop(doc_id, None)
