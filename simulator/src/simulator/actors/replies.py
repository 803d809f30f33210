"""Sending an actor's answers: at once, or later from a schedule kept in Redis.

Why a durable schedule rather than sleeping in the handler: the worker runs one order's
messages in order, so a handler sleeping through a kitchen's cooking time would hold back that
order's `kitchen.cancel` until the food is ready. Instead the handler publishes the answers due
now and writes the rest to Redis (the actors' only store), then returns and the command is
acknowledged. A poller publishes answers when they fall due. A crash anywhere loses nothing:

- before the schedule is written, the command is not acknowledged and is delivered again;
- a scheduled answer stays in Redis until published; a replica that takes due answers holds a
  lease on them (`lease_ms`), and an answer whose lease ran out is taken again.

An answer may therefore be published twice, always with the same message id (derived from the
command id and the answer's type), so consumers recognise the duplicate. Scheduling is
idempotent per `timer_id`: a command redelivered while its answers wait adds nothing.

Layout: a sorted set `<prefix>simulator.replies` (timer id, scored by due time or lease expiry)
and one string per timer `<prefix>simulator.reply:<timer id>` holding the answers still to
send; a cancelled timer's string becomes a tombstone that expires after `cancelled_ttl_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis

from sagakit.clock import from_ms, now_ms
from sagakit.envelope import Envelope
from sagakit.lifecycle import Periodic
from sagakit.logs import get_logger
from sagakit.publisher import Publisher
from simulator.actors.behaviour import Answer

log = get_logger("simulator.replies")

CANCELLED = "cancelled"
_REPLY_IDS = uuid.UUID("6f0f4d1e-3c1b-4b8e-9a55-5e2d0c7a9b21")

# KEYS: schedule, timer; ARGV: timer id, payload, due ms.
_SCHEDULE = """
if redis.call('SET', KEYS[2], ARGV[2], 'NX') then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""

# KEYS: schedule; ARGV: now ms, lease expiry ms, how many. Takes due timers by pushing their
# score to the lease expiry, so other replicas leave them alone until then. Returns them and
# the earliest score left ('' when the schedule is empty): when to look again.
_LEASE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {due, head[2] or ''}
"""

# KEYS: schedule, timer; ARGV: timer id, payload just published, next payload ('' when none),
# next due ms. Changes nothing when the timer was cancelled or advanced meanwhile.
_ADVANCE = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return 0
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
"""


def reply_id(command_id: str, reply_type: str) -> str:
    """The same for every delivery of the command: duplicates are recognisable."""
    return uuid.uuid5(_REPLY_IDS, f"{command_id}:{reply_type}").hex


def reply_envelope(command: Envelope, answer: Answer, occurred_at: datetime) -> Envelope:
    return answer.message.envelope(
        key=command.key,
        version=command.version,
        causation=command,
        message_id=reply_id(command.id, answer.message.message_type),
        occurred_at=occurred_at,
    )


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    after_ms: int
    stream: str
    envelope: Envelope


class _Timer(BaseModel):
    """The answers still to send; the first is due at `due_ms`, each next one `after_ms` later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    due_ms: int
    steps: list[_Step]


class ScheduledReplies:
    """Publishes answers now or when due; also a component whose poller fires due answers."""

    def __init__(
        self,
        redis: Redis,
        publisher: Publisher,
        *,
        prefix: str = "",
        poll_interval_s: float = 0.05,
        idle_poll_s: float = 1.0,
        lease_ms: int = 10_000,
        cancelled_ttl_s: int = 86_400,
        batch: int = 200,
        max_concurrent_calls: int = 32,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._redis = redis
        self._publisher = publisher
        self._schedule_key = f"{prefix}simulator.replies"
        self._timer_prefix = f"{prefix}simulator.reply:"
        self._lease_ms = lease_ms
        self._cancelled_ttl_s = cancelled_ttl_s
        self._batch = batch
        self._clock = clock
        # Handlers run concurrently by the hundred; the client's pool refuses, rather than
        # queues, commands beyond its size, so calls that are not pipelined are bounded here.
        self._calls = asyncio.Semaphore(max_concurrent_calls)
        self._schedule = redis.register_script(_SCHEDULE)
        self._lease = redis.register_script(_LEASE)
        self._advance = redis.register_script(_ADVANCE)
        self._poll_interval_s = poll_interval_s
        self._idle_poll_s = max(idle_poll_s, poll_interval_s)
        # When the earliest scheduled answer falls due (epoch ms), as last seen; answers this
        # process schedules bring it forward and wake the poller.
        self._next_due_ms: int | None = None
        self._wake = asyncio.Event()
        self._poller = Periodic("simulator:replies", self._poll_when_due, poll_interval_s)

    async def start(self) -> None:
        await self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    async def _poll_when_due(self) -> None:
        """Fire what is due, then wait until the next answer is due: at most `idle_poll_s`
        (another replica may have scheduled one), at least `poll_interval_s` (the Periodic's
        own pause, which follows this wait)."""
        await self.fire_due()
        wait_s = self._idle_poll_s
        if self._next_due_ms is not None:
            wait_s = min(wait_s, (self._next_due_ms - self._clock()) / 1000)
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, wait_s - self._poll_interval_s)):
                await self._wake.wait()

    def _expect(self, due_ms: int) -> None:
        if self._next_due_ms is None or due_ms < self._next_due_ms:
            self._next_due_ms = due_ms
            self._wake.set()

    def _timer_key(self, timer_id: str) -> str:
        return self._timer_prefix + timer_id

    async def send(
        self, timer_id: str, command: Envelope, stream: str, answers: Sequence[Answer]
    ) -> None:
        """Publish the answers due now; schedule the rest under `timer_id` (once)."""
        now = self._clock()
        immediate = 0
        while immediate < len(answers) and answers[immediate].after_ms <= 0:
            immediate += 1
        if immediate:
            occurred_at = from_ms(now)
            await self._publisher.publish_many(
                [(stream, reply_envelope(command, a, occurred_at)) for a in answers[:immediate]]
            )
        later = answers[immediate:]
        if not later:
            return
        due_ms = now + later[0].after_ms
        # occurred_at is set again when the answer is published; this one is a placeholder.
        steps = [
            _Step(
                after_ms=a.after_ms,
                stream=stream,
                envelope=reply_envelope(command, a, from_ms(due_ms)),
            )
            for a in later
        ]
        payload = _Timer(due_ms=due_ms, steps=steps).model_dump_json()
        async with self._calls:
            await self._schedule(
                keys=[self._schedule_key, self._timer_key(timer_id)],
                args=[timer_id, payload, due_ms],
            )
        self._expect(due_ms)

    async def cancel(self, timer_id: str) -> None:
        """Drop what is still scheduled, and refuse to schedule `timer_id` again."""
        async with self._calls, self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._timer_key(timer_id), CANCELLED, ex=self._cancelled_ttl_s)
            pipe.zrem(self._schedule_key, timer_id)
            await pipe.execute()

    async def is_cancelled(self, timer_id: str) -> bool:
        async with self._calls:
            return await self._redis.get(self._timer_key(timer_id)) == CANCELLED

    async def scheduled(self) -> int:
        """How many timers have answers waiting."""
        return int(await self._redis.zcard(self._schedule_key))

    async def fire_due(self, now: int | None = None) -> int:
        """Publish every answer due at `now` (default: the clock); returns how many."""
        fired = 0
        while True:
            moment = self._clock() if now is None else now
            taken, head = cast(
                tuple[list[str], str],
                await self._lease(
                    keys=[self._schedule_key],
                    args=[moment, moment + self._lease_ms, self._batch],
                ),
            )
            self._next_due_ms = int(float(head)) if head else None
            if not taken:  # also catches the next step of a chain when it is already due
                return fired
            fired += await self._fire(taken)

    async def _fire(self, timer_ids: list[str]) -> int:
        payloads = cast(
            list[str | None],
            await self._redis.mget([self._timer_key(timer_id) for timer_id in timer_ids]),
        )
        due: list[tuple[str, str, _Timer]] = []
        dropped: list[str] = []
        for timer_id, payload in zip(timer_ids, payloads, strict=True):
            timer = self._parse(timer_id, payload)
            if timer is None:
                dropped.append(timer_id)
            else:
                due.append((timer_id, payload or "", timer))
        if dropped:
            await self._redis.zrem(self._schedule_key, *dropped)
        if not due:
            return 0
        published_at = from_ms(self._clock())
        await self._publisher.publish_many(
            [
                (
                    timer.steps[0].stream,
                    timer.steps[0].envelope.model_copy(update={"occurred_at": published_at}),
                )
                for _, _, timer in due
            ]
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            for timer_id, payload, timer in due:
                rest = timer.steps[1:]
                next_payload, next_due = "", 0
                if rest:
                    next_due = timer.due_ms + rest[0].after_ms
                    next_payload = _Timer(due_ms=next_due, steps=rest).model_dump_json()
                    self._expect(next_due)
                await self._advance(
                    keys=[self._schedule_key, self._timer_key(timer_id)],
                    args=[timer_id, payload, next_payload, next_due],
                    client=pipe,
                )
            await pipe.execute()
        return len(due)

    def _parse(self, timer_id: str, payload: str | None) -> _Timer | None:
        """The timer's answers; None when it was cancelled, finished or cannot be read."""
        if payload is None or payload == CANCELLED:
            return None
        try:
            timer = _Timer.model_validate_json(payload)
        except ValidationError as exc:
            log.error("unreadable scheduled reply dropped", timer_id=timer_id, error=str(exc))
            return None
        return timer if timer.steps else None
