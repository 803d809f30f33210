"""Messages that arrive ahead of the message they follow, because another replica holds it.

One consumer handles one key's messages in order, but with several replicas in a group two
consecutive messages of one order can be read by two consumers (a kitchen's `accepted` and
`ready`, published together) and the second can reach its handler first. A guarded transition
would see it as not applicable and drop it, and the order would wait for a deadline that then
cancels it. Instead the handler raises `ArrivedEarly`: the worker puts the message back behind
its key's queue after a short delay (other messages of the key, e.g. the one it waits for if
it was claimed here, go first), without counting a delivery, for up to `early_wait_s`. That
bound is longer than claim recovery takes to bring back a predecessor held by a crashed
replica; past it, waiting is an ordinary failure (retried, then dead-lettered).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from sagakit.backoff import Backoff
from sagakit.consumer import ConsumerState
from sagakit.intake import Work
from sagakit.keyed import KeyedScheduler
from sagakit.metrics import ARRIVED_EARLY
from sagakit.routing import Delivery

# A message's predecessor is usually being handled at this very moment elsewhere.
EARLY_BACKOFF = Backoff(base_s=0.01, cap_s=0.5)


class ArrivedEarly(Exception):
    """Raised by a handler: the message belongs to a later state than its key is in yet."""


class EarlyArrivals:
    def __init__(self, state: ConsumerState, scheduler: KeyedScheduler[Work]) -> None:
        self._state = state
        self._scheduler = scheduler
        self._waiting: dict[asyncio.TimerHandle, Delivery] = {}

    def put_back(self, key: str, delivery: Delivery) -> bool:
        """Run the delivery again shortly, behind its key's queue; False once it has waited
        `early_wait_s` (then it is a failure like any other)."""
        now = time.monotonic()
        since = delivery.early_since if delivery.early_since is not None else now
        if now - since > self._state.settings.early_wait_s:
            return False
        again = replace(delivery, early_since=since, early_waits=delivery.early_waits + 1)
        ARRIVED_EARLY.labels(delivery.stream, self._state.group).inc()
        handle: asyncio.TimerHandle | None = None

        def resubmit() -> None:
            assert handle is not None
            self._waiting.pop(handle, None)
            self._scheduler.submit(key, again)

        handle = asyncio.get_running_loop().call_later(
            EARLY_BACKOFF.delay(again.early_waits), resubmit
        )
        self._waiting[handle] = again
        return True

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def abandon(self) -> int:
        """Stop waiting (the worker stops): the entries stay pending, for this consumer's
        restart or another's claim."""
        for handle, delivery in self._waiting.items():
            handle.cancel()
            self._state.in_flight.discard((delivery.stream, delivery.entry_id))
        left = len(self._waiting)
        self._waiting.clear()
        return left
