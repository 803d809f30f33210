"""What the parts of one consumer-group worker share: who it is, its connections, what it holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from sagakit.acks import Acker
from sagakit.health import Health
from sagakit.settings import WorkerSettings

EntryRef = tuple[str, str]  # (stream, entry id)


@dataclass(slots=True)
class ConsumerState:
    group: str
    consumer: str
    streams: list[str]
    settings: WorkerSettings
    redis: Redis  # commands: acks, claims, XPENDING, dead letters
    reader: Redis  # the blocking XREADGROUP only, never shared
    acker: Acker
    health: Health
    # Entries this process holds: queued behind their key, running, or waiting to retry.
    in_flight: set[EntryRef] = field(default_factory=set)

    @property
    def health_name(self) -> str:
        return f"consumer:{self.group}"
