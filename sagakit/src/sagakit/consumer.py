"""What the parts of one consumer-group worker share: who it is, its connections, what it holds."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from redis.asyncio import Redis

from sagakit.acks import Acker
from sagakit.health import Health
from sagakit.metrics import DELETED_PENDING_ACKED
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

    def ack_deleted(self, stream: str, entry_ids: Collection[str]) -> None:
        """Acknowledge pending entries whose message was deleted (trimmed or XDELed).

        Redis 7 drops them from the pending list when a claim meets them; 6.2 keeps them
        there, returning an id without fields (or a nil), and they would block trimming for
        ever. Acknowledging loses nothing: there is no message left to handle.
        """
        for entry_id in entry_ids:
            self.acker.ack(stream, entry_id)
        if entry_ids:
            DELETED_PENDING_ACKED.labels(stream, self.group).inc(len(entry_ids))
