"""The local hub: which tracking sockets of this replica watch which order.

Dispatch never waits: each socket has a bounded queue, and a socket whose queue is full is
dropped (its session closes it) instead of slowing the hub or the other sockets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final

from notifications.domain import StatusEntry
from notifications.metrics import SLOW_CLIENTS_DROPPED


class Resync:
    """Ask a socket to compare what it sent with the head in the database."""


RESYNC: Final = Resync()
QueueItem = StatusEntry | Resync


@dataclass(eq=False)
class Subscription:
    order_id: str
    queue: asyncio.Queue[QueueItem]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class Hub:
    def __init__(self) -> None:
        self._by_order: dict[str, set[Subscription]] = {}

    def subscribe(self, order_id: str, queue_size: int) -> Subscription:
        subscription = Subscription(order_id, asyncio.Queue(maxsize=queue_size))
        self._by_order.setdefault(order_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        watchers = self._by_order.get(subscription.order_id)
        if watchers is None:
            return
        watchers.discard(subscription)
        if not watchers:
            del self._by_order[subscription.order_id]

    def dispatch(self, entry: StatusEntry) -> None:
        for subscription in list(self._by_order.get(entry.order_id, ())):
            try:
                subscription.queue.put_nowait(entry)
            except asyncio.QueueFull:
                self.unsubscribe(subscription)
                subscription.dropped.set()
                SLOW_CLIENTS_DROPPED.inc()

    def resync_all(self) -> None:
        """After the fan-out was interrupted: every socket re-checks the database."""
        for watchers in list(self._by_order.values()):
            for subscription in list(watchers):
                # A full queue already has work queued; the hint is not needed then.
                if not subscription.queue.full():
                    subscription.queue.put_nowait(RESYNC)

    def watched_orders(self) -> int:
        return len(self._by_order)

    def sockets(self) -> int:
        return sum(len(w) for w in self._by_order.values())
