"""The operator read side: streams, groups, dead letters, throughput and order outcomes.

Only this deployment's streams (`Streams(prefix).all()`) are shown or touched, so an operator
can never replay into or purge an arbitrary Redis key.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from notifications.schemas import (
    DeadLetterView,
    GroupView,
    Outcomes,
    StatsMessage,
    StreamView,
)
from notifications.store import TrackingStore
from saga_contracts.topology import Streams
from sagakit.dead_letters import DeadLetters
from sagakit.envelope import utcnow
from sagakit.maintenance import group_stats
from sagakit.replies import entries
from sagakit.settings import WorkerSettings

# Without Redis 7's `entries-read`, throughput is counted with XRANGE, up to this many a tick.
MAX_COUNTED_PER_TICK = 10_000


class UnknownStream(LookupError):
    pass


class OpsView:
    def __init__(
        self,
        redis: Redis,
        streams: Streams,
        dead_letters: DeadLetters,
        store: TrackingStore,
        worker_settings: WorkerSettings,
    ) -> None:
        self._redis = redis
        self.streams = streams
        self._dead_letters = dead_letters
        self._store = store
        self._dlq_max_age_s = worker_settings.dlq_max_age_s
        self._dlq_max_len = worker_settings.dlq_max_len

    def sampler(self) -> ThroughputSampler:
        return ThroughputSampler(self._redis, self.streams.all())

    def check_stream(self, stream: str) -> str:
        if stream not in self.streams.all():
            raise UnknownStream(stream)
        return stream

    async def stream_views(self) -> list[StreamView]:
        streams = self.streams.all()
        ages_ms = await self._dead_letters.oldest_ages_ms(streams)
        return [await self._stream_view(stream, ages_ms[stream]) for stream in streams]

    async def _stream_view(self, stream: str, oldest_dead_letter_ms: int | None) -> StreamView:
        groups = await group_stats(self._redis, stream)
        return StreamView(
            stream=stream,
            length=int(await self._redis.xlen(stream)),
            dead_letters=await self._dead_letters.count(stream),
            dead_letters_oldest_age_s=(
                None if oldest_dead_letter_ms is None else oldest_dead_letter_ms / 1000
            ),
            dead_letters_max_age_s=self._dlq_max_age_s,
            dead_letters_max_len=self._dlq_max_len,
            groups=[
                GroupView(
                    group=g.group,
                    consumers=g.consumers,
                    pending=g.pending,
                    lag=g.lag,
                    last_delivered_id=g.last_delivered_id,
                )
                for g in groups
            ],
        )

    async def dead_letters(self, stream: str | None, limit: int) -> list[DeadLetterView]:
        chosen = [self.check_stream(stream)] if stream else self.streams.all()
        found: list[DeadLetterView] = []
        for name in chosen:
            if len(found) >= limit:
                break
            letters = await self._dead_letters.list(name, count=limit - len(found))
            found.extend(DeadLetterView.model_validate(letter.as_dict()) for letter in letters)
        return found

    async def replay(self, stream: str, ids: Sequence[str] | None) -> int:
        return await self._dead_letters.replay(self.check_stream(stream), ids)

    async def purge(self, stream: str, ids: Sequence[str] | None) -> int:
        return await self._dead_letters.purge(self.check_stream(stream), ids)

    async def outcomes(self) -> Outcomes:
        return Outcomes.model_validate(await self._store.outcomes())


@dataclass
class _Position:
    read: int | None  # entries-read (Redis >= 7)
    last_id: str
    at: float


@dataclass
class ThroughputSampler:
    """Entries delivered per second to each group since the previous sample (one per feed)."""

    redis: Redis
    streams: Sequence[str]
    _previous: dict[tuple[str, str], _Position] = field(default_factory=dict)

    async def sample(self) -> dict[str, dict[str, float | None]]:
        rates: dict[str, dict[str, float | None]] = {}
        for stream in self.streams:
            rates[stream] = {}
            for group, position in (await self._positions(stream)).items():
                before = self._previous.get((stream, group))
                self._previous[(stream, group)] = position
                rates[stream][group] = (
                    None if before is None else await self._rate(stream, before, position)
                )
        return rates

    async def _positions(self, stream: str) -> dict[str, _Position]:
        try:
            groups = await self.redis.xinfo_groups(stream)
        except ResponseError:
            return {}
        now = time.monotonic()
        return {
            g["name"]: _Position(
                read=None if g.get("entries-read") is None else int(g["entries-read"]),
                last_id=g["last-delivered-id"],
                at=now,
            )
            for g in groups
        }

    async def _rate(self, stream: str, before: _Position, now: _Position) -> float:
        elapsed = max(now.at - before.at, 1e-3)
        if before.read is not None and now.read is not None:
            delivered = max(0, now.read - before.read)
        elif now.last_id == before.last_id:
            delivered = 0
        else:
            found = await self.redis.xrange(
                stream, min=f"({before.last_id}", max=now.last_id, count=MAX_COUNTED_PER_TICK
            )
            delivered = len(entries(found))
        return round(delivered / elapsed, 2)


async def stats_message(ops: OpsView, sampler: ThroughputSampler) -> StatsMessage:
    return StatsMessage(
        at=utcnow(),
        streams=await ops.stream_views(),
        throughput=await sampler.sample(),
        outcomes=await ops.outcomes(),
    )
