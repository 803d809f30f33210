"""One customer's live view of one order over a WebSocket.

The socket is registered in the hub *before* the snapshot is read, so a status applied in
between arrives through the hub (and is skipped if the snapshot already had it). After the
snapshot, a `Sequencer` decides every send: versions strictly increase by one; a gap (a pub/sub
message lost, or the hub's message overtaking the snapshot) is filled from the timeline first.
Each heartbeat also re-checks the head in the database, so a lost last status still arrives.

The socket stays open after a terminal status (the customer may keep looking); the client
closes it.
"""

from __future__ import annotations

import asyncio
import time

from starlette.websockets import WebSocket

from notifications.domain import Sequencer, StatusEntry, Step
from notifications.hub import Hub, Resync, Subscription
from notifications.metrics import GAPS_FILLED, STATUSES_SENT, TRACKING_SOCKETS
from notifications.schemas import (
    HeartbeatMessage,
    SnapshotMessage,
    StatusMessage,
    TimelineItem,
    dump,
)
from notifications.settings import NotificationsSettings
from notifications.sockets import INTERNAL_ERROR, TRY_AGAIN_LATER, Ended, close_quietly, serve
from notifications.store import TrackingStore
from sagakit.envelope import utcnow
from sagakit.logs import get_logger

log = get_logger("notifications.tracking")


class TrackingSession:
    def __init__(
        self,
        ws: WebSocket,
        order_id: str,
        since: int,
        *,
        store: TrackingStore,
        hub: Hub,
        settings: NotificationsSettings,
    ) -> None:
        self.ws = ws
        self.order_id = order_id
        self.since = since
        self.store = store
        self.hub = hub
        self.settings = settings

    async def run(self) -> None:
        """Serve the (accepted, authorised) socket until the client leaves or is dropped."""
        subscription = self.hub.subscribe(self.order_id, self.settings.ws_queue_size)
        TRACKING_SOCKETS.inc()
        try:
            ended = await serve(self.ws, self._send_all(subscription), dropped=subscription.dropped)
        finally:
            self.hub.unsubscribe(subscription)
            TRACKING_SOCKETS.dec()
        if ended is Ended.DROPPED:
            log.info("dropping a slow tracking client", order_id=self.order_id)
            await close_quietly(
                self.ws, TRY_AGAIN_LATER, self.settings.ws_close_timeout_s, "too slow"
            )
        elif ended is Ended.SENDER_FAILED:
            await close_quietly(self.ws, INTERNAL_ERROR, self.settings.ws_close_timeout_s)

    async def _send_all(self, subscription: Subscription) -> None:
        sequencer = await self._send_snapshot()
        heartbeat_s = self.settings.heartbeat_s
        next_heartbeat = time.monotonic() + heartbeat_s
        while True:
            try:
                async with asyncio.timeout(max(0.0, next_heartbeat - time.monotonic())):
                    item = await subscription.queue.get()
            except TimeoutError:
                await self.ws.send_json(dump(HeartbeatMessage(at=utcnow())))
                next_heartbeat = time.monotonic() + heartbeat_s
                await self._catch_up(sequencer)
                continue
            if isinstance(item, Resync):
                await self._catch_up(sequencer)
            else:
                await self._on_status(sequencer, item)

    async def _send_snapshot(self) -> Sequencer:
        tracked = await self.store.tracked(self.order_id, after=self.since)
        if tracked is None:
            snapshot = SnapshotMessage(
                order_id=self.order_id, status=None, version=0, reason=None, timeline=[]
            )
            last_sent = self.since
        else:
            head = tracked.head
            snapshot = SnapshotMessage.model_validate(
                {
                    "order_id": self.order_id,
                    "status": head.status,
                    "version": head.version,
                    "reason": head.reason,
                    "timeline": [TimelineItem.of(e) for e in tracked.timeline],
                }
            )
            last_sent = max(self.since, head.version)
        await self.ws.send_json(dump(snapshot))
        return Sequencer(last_sent=last_sent)

    async def _on_status(self, sequencer: Sequencer, entry: StatusEntry) -> None:
        step = sequencer.step(entry.version)
        if step is Step.SEND:
            await self._send(sequencer.accept([entry]))
        elif step is Step.FETCH:
            await self._fill(sequencer, upto=entry.version)

    async def _catch_up(self, sequencer: Sequencer) -> None:
        await self._fill(sequencer, upto=None)

    async def _fill(self, sequencer: Sequencer, *, upto: int | None) -> None:
        """Send the applied versions after the last one sent, up to `upto` (default: the head),
        from the timeline."""
        tracked = await self.store.tracked(self.order_id, after=sequencer.last_sent, upto=upto)
        if tracked is None:
            return
        to_send = sequencer.accept(tracked.timeline)
        GAPS_FILLED.inc(len(to_send))
        await self._send(to_send)

    async def _send(self, entries: list[StatusEntry]) -> None:
        for entry in entries:
            await self.ws.send_json(dump(StatusMessage.of(entry)))
            STATUSES_SENT.inc()
