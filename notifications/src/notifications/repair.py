"""Asks orders to publish again the statuses this service never received.

A lost `order.status_changed` (Redis restarted empty, a stream trimmed or flushed) would stall
the customer's view: a later version waits for it forever, or the order never shows its end.
Each pass finds the orders whose stored version has waited too long, or whose non-terminal head
has not moved for long, and asks orders for every version after the head
(`order.republish_statuses` on `orders.commands`); what arrives twice is ignored by `record`.
"""

from __future__ import annotations

from notifications.settings import NotificationsSettings
from notifications.store import TrackingStore
from saga_contracts.messages import RepublishStatuses
from saga_contracts.topology import Streams
from sagakit.clock import now_ms
from sagakit.logs import get_logger
from sagakit.publisher import Publisher

log = get_logger("notifications.repair")


class Reconciler:
    def __init__(
        self,
        store: TrackingStore,
        publisher: Publisher,
        streams: Streams,
        settings: NotificationsSettings,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._streams = streams
        self._settings = settings

    async def run_once(self) -> int:
        """One pass: how many orders were asked about."""
        now = now_ms()
        s = self._settings
        found = await self._store.needing_repair(
            waiting_before_ms=now - int(s.reconcile_waiting_s * 1000),
            stale_before_ms=now - int(s.reconcile_stale_s * 1000),
            asked_before_ms=now - int(s.reconcile_repeat_s * 1000),
            limit=s.reconcile_batch,
        )
        asked = 0
        for order_id, head in found.items():
            # Recorded first: a crash before the publish delays the question, never repeats it
            # more often than reconcile_repeat_s.
            if not await self._store.mark_repair_asked(order_id, head, now):
                continue  # the head moved meanwhile
            ask = RepublishStatuses(order_id=order_id, after_version=head)
            await self._publisher.publish(
                self._streams.orders_commands, ask.envelope(key=order_id, version=head)
            )
            asked += 1
        if asked:
            log.info("asked orders to republish statuses", orders=asked)
        return asked
