"""Fan-out of applied statuses to every replica over Redis pub/sub.

Whichever replica consumed an event publishes the versions it made visible on one channel
(`<stream prefix>notifications.status`); every replica listens and hands them to its local hub.
Pub/sub is fire-and-forget: a message published while a replica is disconnected is lost to it.
That is repaired by the sockets themselves (they fill gaps from the timeline and re-check the
head on every heartbeat) and by a resync of every local socket each time the subscription is
(re)made.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis

from notifications.domain import StatusEntry
from notifications.hub import Hub
from notifications.metrics import FEED_MESSAGES, FEED_RECONNECTS
from sagakit.backoff import Backoff
from sagakit.connections import redis_client
from sagakit.health import Health
from sagakit.logs import get_logger

log = get_logger("notifications.fanout")

HEALTH_COMPONENT = "status-feed"


def feed_channel(stream_prefix: str) -> str:
    return f"{stream_prefix}notifications.status"


class FeedMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: str
    version: int
    status: str
    reason: str | None = None
    at: str

    def entry(self) -> StatusEntry:
        return StatusEntry(self.order_id, self.version, self.status, self.reason, self.at)


def encode(entry: StatusEntry) -> bytes:
    return orjson.dumps(
        {
            "order_id": entry.order_id,
            "version": entry.version,
            "status": entry.status,
            "reason": entry.reason,
            "at": entry.at,
        }
    )


class StatusFeed:
    """Publishes applied statuses and feeds the ones every replica publishes to the hub."""

    def __init__(
        self,
        *,
        redis: Redis,
        redis_url: str,
        channel: str,
        hub: Hub,
        health: Health,
        poll_timeout_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._redis_url = redis_url
        self.channel = channel
        self._hub = hub
        self._health = health
        self._poll_timeout_s = poll_timeout_s
        self._task: asyncio.Task[None] | None = None

    async def publish(self, entries: list[StatusEntry]) -> None:
        """Publish in version order. A failure only delays the live view until the next
        heartbeat, so it is logged, not raised."""
        if not entries:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.publish(self.channel, encode(entry))
                await pipe.execute()
        except Exception as exc:
            log.warning(
                "status fan-out failed; sockets catch up on their heartbeat",
                order_id=entries[0].order_id,
                error=repr(exc),
            )

    async def start(self) -> None:
        self._health.set(HEALTH_COMPONENT, False, "not subscribed yet")
        self._task = asyncio.create_task(self._listen_forever(), name="status-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        backoff = Backoff(base_s=0.1, cap_s=5.0)
        failures = 0
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self._health.set(HEALTH_COMPONENT, False, f"pub/sub: {exc!r}")
                log.warning("status feed lost its subscription", error=repr(exc))
                await asyncio.sleep(backoff.delay(failures))
            else:
                failures = 0

    async def _listen(self) -> None:
        client = redis_client(self._redis_url, max_connections=2)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            FEED_RECONNECTS.inc()
            self._health.set(HEALTH_COMPONENT, True)
            # Anything published while we were not subscribed is lost to this replica.
            self._hub.resync_all()
            while True:
                message = await pubsub.get_message(timeout=self._poll_timeout_s)
                if message is not None and message.get("type") == "message":
                    self._deliver(message.get("data"))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()

    def _deliver(self, data: object) -> None:
        FEED_MESSAGES.inc()
        try:
            raw = data.encode() if isinstance(data, str) else data
            if not isinstance(raw, bytes):
                raise TypeError(f"unexpected payload type {type(data).__name__}")
            entry = FeedMessage.model_validate_json(raw).entry()
        except (ValidationError, TypeError, ValueError) as exc:
            log.warning("ignoring malformed status feed message", error=repr(exc))
            return
        self._hub.dispatch(entry)
