"""Running the actors against the shared test Redis, in a namespace of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from redis.asyncio import Redis

from saga_contracts.topology import Streams
from sagakit import stream_ids
from sagakit.envelope import Envelope, Message
from sagakit.publisher import Publisher
from sagakit.replies import entries
from sagakit.settings import ConnectionSettings
from sagakit.testing.workers import fast_settings
from sagakit.web import ServiceApp
from simulator.actors.app import build_service
from simulator.actors.replies import ScheduledReplies
from simulator.actors.settings import ActorSettings

# No MongoDB listens here: the actors must not need one.
NO_MONGO = "mongodb://127.0.0.1:9/?directConnection=true"

QUIET: dict[str, Any] = {
    "actors_zero_delay": True,
    "payment_decline_rate": 0.0,
    "payment_silence_rate": 0.0,
    "kitchen_reject_rate": 0.0,
    "kitchen_silence_rate": 0.0,
    "courier_fail_rate": 0.0,
    "sim_reply_poll_ms": 20,
}


def actor_settings(**overrides: Any) -> ActorSettings:
    """Zero delays and no failures unless overridden."""
    return ActorSettings(**{**QUIET, **overrides})


@dataclass
class World:
    """The streams around the actors: send commands, read replies, inspect the schedule."""

    redis_url: str
    redis: Redis
    publisher: Publisher
    prefix: str
    streams: Streams
    started: list[ServiceApp] = field(default_factory=list)

    async def start(
        self, settings: ActorSettings, *, consumer: str = "sim-1", **worker: Any
    ) -> ServiceApp:
        connections = ConnectionSettings(
            redis_url=self.redis_url,
            mongo_url=NO_MONGO,
            mongo_db=f"t_{uuid.uuid4().hex[:10]}",
            consumer_name=consumer,
            stream_prefix=self.prefix,
        )
        service = build_service(settings, connections, fast_settings(**worker))
        await service.start()
        self.started.append(service)
        return service

    async def send(
        self, stream: str, message: Message, *, envelope: Envelope | None = None
    ) -> tuple[str, Envelope]:
        """Publish a command (or publish `envelope` again, as a redelivery would)."""
        order_id = str(message.model_dump()["order_id"])  # every command names its order
        envelope = envelope or message.envelope(key=order_id, version=3)
        return await self.publisher.publish(stream, envelope), envelope

    async def replies(self, stream: str, *, order_id: str | None = None) -> list[Envelope]:
        found = [Envelope.from_fields(f) for _, f in entries(await self.redis.xrange(stream))]
        return [e for e in found if order_id is None or e.key == order_id]

    async def reply_types(self, stream: str, order_id: str | None = None) -> list[str]:
        return [e.type for e in await self.replies(stream, order_id=order_id)]

    def has_replies(
        self, stream: str, count: int, order_id: str | None = None
    ) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(await self.replies(stream, order_id=order_id)) >= count

        return check

    def handled(self, stream: str, group: str, entry_id: str) -> Callable[[], Awaitable[bool]]:
        """True once the group has read `entry_id` and has nothing left pending."""

        async def check() -> bool:
            for info in await self.redis.xinfo_groups(stream):
                if info["name"] == group:
                    read = stream_ids.parse(info["last-delivered-id"])
                    return read >= stream_ids.parse(entry_id) and int(info["pending"]) == 0
            return False

        return check

    def schedule(self, **options: Any) -> ScheduledReplies:
        """A second view of the actors' reply schedule (it lives in Redis)."""
        return ScheduledReplies(self.redis, self.publisher, prefix=self.prefix, **options)


@pytest_asyncio.fixture
async def world(
    redis_url: str, redis: Redis, publisher: Publisher, namespace: str
) -> AsyncIterator[World]:
    prefix = f"{namespace}."
    world = World(redis_url, redis, publisher, prefix, Streams(prefix))
    yield world
    for service in reversed(world.started):
        await service.stop()
