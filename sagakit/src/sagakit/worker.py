"""The consumer-group worker: reads, dispatches, retries, recovers, dead-letters and trims.

One worker serves one consumer group over every stream its router subscribes to:

- a read loop on a dedicated connection (XREADGROUP COUNT/BLOCK, BLOCK shorter than the
  socket timeout) feeding a key-ordered scheduler, with backpressure at `max_in_flight`;
- handlers run under a timeout; success is acknowledged through the pipelined `Acker`;
- a failure is retried after an exponential, jittered delay by re-claiming the entry
  (XCLAIM), so Redis' own delivery count (read back with XPENDING) decides when the entry has
  had enough attempts and goes to `dlq.<stream>`; an entry that cannot be parsed goes at once;
- a claim loop takes over entries idle past the claim threshold (XAUTOCLAIM), acknowledging
  ones that were deleted, and on start the consumer first re-reads its own pending entries;
- NOGROUP recreates the group, a lost connection is retried with backoff (readiness false
  meanwhile), and a maintenance loop trims consumed entries, removes idle consumers that own
  nothing and publishes lag/pending gauges;
- `stop()` stops reading, lets in-flight work finish until a deadline, abandons the rest
  (it stays pending and is reclaimed), flushes acks and closes its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sagakit import maintenance
from sagakit.acks import Acker
from sagakit.backoff import Backoff
from sagakit.connections import TRANSIENT_ERRORS, is_nogroup, redis_client
from sagakit.dead_letters import DeadLetters
from sagakit.envelope import Envelope, PoisonMessage
from sagakit.health import Health
from sagakit.keyed import KeyedScheduler
from sagakit.lifecycle import cancel_and_wait
from sagakit.logs import describe, get_logger
from sagakit.metrics import (
    CLAIMED,
    FAILED,
    HANDLER_SECONDS,
    LAG,
    PENDING,
    PROCESSED,
    RETRIED,
)
from sagakit.replies import autoclaim_reply, entries, read_reply
from sagakit.routing import Delivery, Router
from sagakit.settings import WorkerSettings

log = get_logger("sagakit.worker")

CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
POISON_KEY = "\x00dead-letter"


@dataclass(frozen=True, slots=True)
class _GiveUp:
    """An entry that goes to the dead-letter stream without being handled."""

    stream: str
    entry_id: str
    fields: Mapping[str, str] | None
    reason: str
    error: str
    deliveries: int


_Work = Delivery | _GiveUp


class StreamWorker:
    def __init__(
        self,
        *,
        redis_url: str,
        group: str,
        consumer: str,
        router: Router,
        settings: WorkerSettings | None = None,
        health: Health | None = None,
        required_groups: Mapping[str, Sequence[str]] | None = None,
        trim: bool = True,
    ) -> None:
        self.group = group
        self.consumer = consumer
        self.streams = router.streams
        if not self.streams:
            raise ValueError("the router subscribes to no stream")
        self._router = router
        self._settings = settings or WorkerSettings()
        self._health = health or Health()
        self._required_groups = required_groups or {}
        self._trim = trim
        self._backoff = Backoff(self._settings.retry_base_s, self._settings.retry_cap_s)
        self._reconnect = Backoff(self._settings.reconnect_base_s, self._settings.reconnect_cap_s)
        self._redis: Redis = redis_client(redis_url)
        self._reader: Redis = redis_client(
            redis_url, socket_timeout=self._settings.socket_timeout_s(), max_connections=2
        )
        self._acker = Acker(self._redis, group)
        self._dead_letters = DeadLetters(self._redis)
        self._scheduler: KeyedScheduler[_Work] = KeyedScheduler(self._process)
        self._scheduler.limit = self._settings.max_in_flight
        self._in_flight: set[tuple[str, str]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._reading: asyncio.Task[None] | None = None
        self._stopping = False
        self._consuming = False
        self._health_name = f"consumer:{group}"
        self._metric_children: dict[tuple[str, str], Any] = {}

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._health.set(self._health_name, False, "starting")
        self._reading = asyncio.create_task(self._read_loop(), name=f"{self.group}:read")
        self._tasks = [
            self._reading,
            asyncio.create_task(self._acker.run(), name=f"{self.group}:ack"),
            asyncio.create_task(self._claim_loop(), name=f"{self.group}:claim"),
            asyncio.create_task(self._maintenance_loop(), name=f"{self.group}:maintenance"),
        ]

    async def stop(self, timeout_s: float | None = None) -> None:
        """Stop reading, finish in-flight work until the deadline, flush acks, close."""
        if self._stopping:
            return
        self._stopping = True
        deadline = time.monotonic() + (timeout_s or self._settings.shutdown_timeout_s)
        self._health.set(self._health_name, False, "stopping")
        if self._reading is not None:
            await self._stop_reading()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic() - 0.5)):
                await self._scheduler.wait_idle()
        abandoned = self._scheduler.abandon()
        await cancel_and_wait(self._scheduler.tasks())
        if abandoned:
            log.warning(
                "abandoned in-flight entries; they stay pending", count=abandoned, group=self.group
            )
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(*CONNECTION_ERRORS):
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                await self._acker.flush()
        await self._reader.aclose()
        await self._redis.aclose()

    async def _stop_reading(self) -> None:
        """End the read loop without cancelling a blocking read.

        redis-py can hang when a blocking command is cancelled (redis/redis-py#2579, #2663), so
        the reader's socket is closed instead: the read returns at once with a connection
        error, and the loop, seeing `_stopping`, ends by itself.
        """
        assert self._reading is not None
        with contextlib.suppress(Exception):
            await self._reader.connection_pool.disconnect()
        done, _ = await asyncio.wait({self._reading}, timeout=self._settings.block_ms / 1000 + 1)
        if not done:
            await cancel_and_wait([self._reading])

    async def __aenter__(self) -> StreamWorker:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def in_flight(self) -> int:
        return self._scheduler.size

    @property
    def health(self) -> Health:
        """The readiness this worker reports into (the one passed in, or its own)."""
        return self._health

    # ---- reading ---------------------------------------------------------------------------

    async def _ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                await self._redis.xgroup_create(stream, self.group, id="0", mkstream=True)
                log.info("created consumer group", stream=stream, group=self.group)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _read_loop(self) -> None:
        failures = 0
        recover = True
        first_start = True
        new_entries = dict.fromkeys(self.streams, ">")
        while not self._stopping:
            try:
                if recover:
                    await self._ensure_groups()
                    if first_start:
                        # Only once: after a reconnect most entries still pending for this
                        # name are this process's own in-flight ones, and re-reading them
                        # would count a delivery for each (dead-lettering them early).
                        await self._recover_own_pending()
                        first_start = False
                    else:
                        await self._reclaim_lost_deliveries()
                    recover = False
                await self._scheduler.wait_for_room()
                room = self._settings.max_in_flight - self._scheduler.size
                response = await self._reader.xreadgroup(
                    self.group,
                    self.consumer,
                    new_entries,  # type: ignore[arg-type]
                    count=max(1, min(self._settings.batch_size, room)),
                    block=self._settings.block_ms,
                )
                if not self._consuming:
                    self._consuming = True
                    self._health.set(self._health_name, True)
                failures = 0
                for stream, batch in read_reply(response):
                    for entry_id, fields in batch:
                        self._accept(stream, entry_id, fields, attempt=1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:  # the reader's socket was closed to end this loop
                    return
                failures, recover = await self._read_failed(exc, failures, recover)

    async def _read_failed(self, exc: Exception, failures: int, recover: bool) -> tuple[int, bool]:
        """React to a failed read; returns the new failure count and whether to recover."""
        if isinstance(exc, ResponseError) and is_nogroup(exc):
            log.warning("consumer group missing, recreating", group=self.group)
            return failures, True
        failures += 1
        if isinstance(exc, ResponseError):
            await self._degraded(f"redis error: {exc}", failures)
            return failures, recover
        if isinstance(exc, CONNECTION_ERRORS):
            await self._degraded(f"redis unreachable: {exc}", failures)
            return failures, True
        log.error("read loop error", group=self.group, error=describe(exc), exc_info=exc)
        await self._degraded(f"read loop error: {exc!r}", failures)
        return failures, recover

    async def _degraded(self, reason: str, failures: int) -> None:
        self._consuming = False
        self._health.set(self._health_name, False, reason)
        delay = self._reconnect.delay(failures)
        log.warning(
            "cannot consume, retrying", group=self.group, reason=reason, retry_in_s=round(delay, 2)
        )
        await asyncio.sleep(delay)

    async def _recover_own_pending(self) -> None:
        """Re-read entries this consumer name was given but never acknowledged (a restart)."""
        for stream in self.streams:
            start = "0"
            while True:
                response = await self._reader.xreadgroup(
                    self.group, self.consumer, {stream: start}, count=self._settings.batch_size
                )
                replies = read_reply(response)
                pending = replies[0][1] if replies else []
                if not pending:
                    break
                await self._accept_redelivered(stream, pending)
                start = pending[-1][0]

    async def _reclaim_lost_deliveries(self) -> None:
        """After a reconnect, take back the entries pending under this name that this process
        does not hold: a read whose reply died with the connection (Redis delivered it, we
        never saw it), or an entry left pending after an error. Otherwise only the claim
        threshold (30 s) would find them, after a saga step's deadline.

        Acks are flushed first, so an entry handled and acknowledged here is not pending any
        more; what remains and is not in flight was lost to this process.
        """
        if not await self._acker.flush():
            return  # Redis went away again: the next reconnect tries again
        for stream in self.streams:
            rows = await self._redis.xpending_range(
                stream,
                self.group,
                min="-",
                max="+",
                count=self._settings.claim_batch + len(self._in_flight),
                consumername=self.consumer,
            )
            lost: list[Any] = [
                row["message_id"]
                for row in rows
                if (stream, cast(str, row["message_id"])) not in self._in_flight
            ]
            if lost:
                claimed = entries(
                    await self._redis.xclaim(
                        stream, self.group, self.consumer, min_idle_time=0, message_ids=lost
                    )
                )
                log.info("took back entries lost to a reconnect", stream=stream, count=len(lost))
                await self._accept_redelivered(stream, claimed)

    def _accept(
        self, stream: str, entry_id: str, fields: Mapping[str, str] | None, *, attempt: int
    ) -> None:
        ref = (stream, entry_id)
        if ref in self._in_flight:
            return
        if not fields:  # deleted while pending (redis-py reads the nil as None or {})
            self._acker.ack(stream, entry_id)
            return
        self._in_flight.add(ref)
        try:
            envelope = Envelope.from_fields(fields)
        except PoisonMessage as exc:
            self._scheduler.submit(
                POISON_KEY, _GiveUp(stream, entry_id, fields, "unparseable", str(exc), attempt)
            )
            return
        self._scheduler.submit(envelope.key, Delivery(stream, entry_id, envelope, fields, attempt))

    async def _accept_redelivered(
        self, stream: str, entries: Sequence[tuple[str, Mapping[str, str] | None]]
    ) -> None:
        fresh = [(i, f) for i, f in entries if (stream, i) not in self._in_flight]
        if not fresh:
            return
        counts = await self._delivery_counts(stream, [i for i, _ in fresh])
        for entry_id, fields in fresh:
            deliveries = counts.get(entry_id, 1)
            if fields and deliveries > self._settings.max_deliveries:
                self._in_flight.add((stream, entry_id))
                self._scheduler.submit(
                    POISON_KEY,
                    _GiveUp(
                        stream,
                        entry_id,
                        fields,
                        "max_deliveries",
                        "delivered too often without an acknowledgement",
                        deliveries,
                    ),
                )
            else:
                self._accept(stream, entry_id, fields, attempt=deliveries)

    async def _delivery_counts(self, stream: str, entry_ids: Sequence[str]) -> dict[str, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xpending_range(stream, self.group, min=entry_id, max=entry_id, count=1)
            rows = await pipe.execute()
        return {row[0]["message_id"]: int(row[0]["times_delivered"]) for row in rows if row}

    # ---- handling --------------------------------------------------------------------------

    async def _process(self, key: str, work: _Work) -> None:
        ref = (work.stream, work.entry_id)
        try:
            if isinstance(work, _GiveUp):
                await self._give_up(work)
            else:
                with structlog.contextvars.bound_contextvars(
                    order_id=key, message_type=work.envelope.type, message_id=work.envelope.id
                ):
                    await self._handle(work)
        except Exception as exc:  # redis unreachable, group gone: the entry stays pending
            log.warning(
                "left pending after an error",
                stream=work.stream,
                entry_id=work.entry_id,
                error=describe(exc),
            )
        finally:
            self._in_flight.discard(ref)

    async def _handle(self, delivery: Delivery) -> None:
        current: Delivery | None = delivery
        overloaded = 0
        while current is not None:
            handler = self._router.handler_for(current.stream, current.envelope.type)
            if handler is None:
                self._acker.ack(current.stream, current.entry_id)
                return
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self._settings.handler_timeout_s):
                    await handler(current)
            except PoisonMessage as exc:
                await self._give_up(
                    _GiveUp(
                        current.stream,
                        current.entry_id,
                        current.fields,
                        "invalid_payload",
                        str(exc),
                        current.attempt,
                    )
                )
                return
            except Exception as exc:
                self._children(current.stream, current.envelope.type)[1].inc()
                log.warning(
                    "handler failed",
                    stream=current.stream,
                    attempt=current.attempt,
                    error=describe(exc),
                )
                if isinstance(exc, TRANSIENT_ERRORS):
                    overloaded += 1
                    current = await self._wait_out(current, overloaded)
                else:
                    failed = current
                    try:
                        current = await self._retry(failed, exc)
                    except TRANSIENT_ERRORS:  # Redis went away while retrying: wait it out
                        overloaded += 1
                        current = await self._wait_out(failed, overloaded)
            else:
                processed, _, latency = self._children(current.stream, current.envelope.type)
                latency.observe(time.perf_counter() - started)
                processed.inc()
                self._acker.ack(current.stream, current.entry_id)
                return

    async def _retry(self, delivery: Delivery, error: Exception) -> Delivery | None:
        """Wait out the backoff and re-claim the entry, or dead-letter it after the limit."""
        counts = await self._delivery_counts(delivery.stream, [delivery.entry_id])
        deliveries = counts.get(delivery.entry_id)
        if deliveries is None:  # no longer pending for this group: nothing left to do here
            return None
        if deliveries >= self._settings.max_deliveries:
            await self._give_up(
                _GiveUp(
                    delivery.stream,
                    delivery.entry_id,
                    delivery.fields,
                    "max_deliveries",
                    describe(error),
                    deliveries,
                )
            )
            return None
        await asyncio.sleep(self._backoff.delay(deliveries))
        claimed = entries(
            await self._redis.xclaim(
                delivery.stream,
                self.group,
                self.consumer,
                min_idle_time=0,
                message_ids=[delivery.entry_id],
            )
        )
        fields = claimed[0][1] if claimed else None
        if not fields:  # deleted meanwhile
            self._acker.ack(delivery.stream, delivery.entry_id)
            return None
        RETRIED.labels(delivery.stream, self.group).inc()
        return replace(delivery, fields=fields, attempt=deliveries + 1)

    async def _wait_out(self, delivery: Delivery, failures: int) -> Delivery | None:
        """Retry after a timeout or an unreachable dependency, without counting a delivery.

        Such a failure says the system is overloaded or a server is away, not that the message
        is poison, so it must not push healthy messages into the dead-letter stream. The entry
        is re-claimed with JUSTID, which keeps it this consumer's and fresh for the claim
        threshold without increasing Redis' delivery count.

        When Redis itself is away the re-claim fails too: keep waiting (the entry is still
        this consumer's) rather than leave it pending, where only the claim threshold would
        find it again, long after a saga step's deadline may have passed.
        """
        while True:
            await asyncio.sleep(self._backoff.delay(failures))
            try:
                kept = await self._redis.xclaim(
                    delivery.stream,
                    self.group,
                    self.consumer,
                    min_idle_time=0,
                    message_ids=[delivery.entry_id],
                    justid=True,
                )
                break
            except TRANSIENT_ERRORS as exc:
                failures += 1
                log.warning(
                    "cannot re-claim the entry yet", stream=delivery.stream, error=describe(exc)
                )
        if not kept:  # acknowledged or deleted meanwhile: nothing left to do
            return None
        RETRIED.labels(delivery.stream, self.group).inc()
        return delivery

    async def _give_up(self, work: _GiveUp) -> None:
        log.error(
            "dead-lettering",
            stream=work.stream,
            entry_id=work.entry_id,
            reason=work.reason,
            error=work.error,
            deliveries=work.deliveries,
        )
        await self._dead_letters.send(
            stream=work.stream,
            group=self.group,
            entry_id=work.entry_id,
            fields=work.fields,
            reason=work.reason,
            error=work.error,
            deliveries=work.deliveries,
        )

    def _children(self, stream: str, message_type: str) -> Any:
        key = (stream, message_type)
        children = self._metric_children.get(key)
        if children is None:
            children = (
                PROCESSED.labels(stream, self.group, message_type),
                FAILED.labels(stream, self.group, message_type),
                HANDLER_SECONDS.labels(stream, self.group),
            )
            self._metric_children[key] = children
        return children

    # ---- recovery and housekeeping ---------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.claim_interval_s)
            for stream in self.streams:
                try:
                    await self._renew_held(stream)
                    await self._claim_idle(stream)
                except asyncio.CancelledError:
                    raise
                except ResponseError as exc:
                    if not is_nogroup(exc):  # a missing group is the read loop's to recreate
                        log.warning("claim failed", stream=stream, error=str(exc))
                except Exception as exc:
                    log.warning("claim failed", stream=stream, error=describe(exc))

    async def _renew_held(self, stream: str) -> None:
        """Keep entries this worker holds (queued behind their key, running, waiting to retry)
        from looking idle, so no consumer's claim takes over work that is still being done.

        XCLAIM JUSTID to ourselves resets an entry's idle time without counting a delivery.
        """
        held: list[Any] = [entry_id for s, entry_id in self._in_flight if s == stream]
        for start in range(0, len(held), 500):
            await self._redis.xclaim(
                stream,
                self.group,
                self.consumer,
                min_idle_time=self._settings.claim_idle_ms // 2,
                message_ids=held[start : start + 500],
                justid=True,
            )

    async def _claim_idle(self, stream: str) -> None:
        cursor = "0-0"
        for _ in range(10):
            if self._stopping or self._scheduler.size >= self._settings.max_in_flight:
                return
            start = cursor
            cursor, claimed, deleted = autoclaim_reply(
                await self._redis.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    min_idle_time=self._settings.claim_idle_ms,
                    start_id=cursor,
                    count=self._settings.claim_batch,
                )
            )
            for entry_id in deleted:
                self._acker.ack(stream, entry_id)
            if any(cast(str | None, entry_id) is None for entry_id, _ in claimed):
                # Redis < 7 claims an entry deleted while pending as a nil without its id and
                # keeps it pending (blocking trimming forever): find those and acknowledge them.
                claimed = [(i, f) for i, f in claimed if cast(str | None, i) is not None]
                await self._ack_deleted_claims(stream, start, cursor, {i for i, _ in claimed})
            if claimed:
                CLAIMED.labels(stream, self.group).inc(len(claimed))
                log.info("claimed idle entries", stream=stream, count=len(claimed))
                await self._accept_redelivered(stream, claimed)
            if cursor == "0-0":
                return

    async def _ack_deleted_claims(
        self, stream: str, start: str, end: str, claimed: set[str]
    ) -> None:
        """Acknowledge the entries of ours in [start, end) that no longer exist in the stream."""
        owned = await self._redis.xpending_range(
            stream,
            self.group,
            min=start,
            max="+" if end == "0-0" else f"({end}",
            count=self._settings.claim_batch + len(self._in_flight),
            consumername=self.consumer,
        )
        ids = [cast(str, row["message_id"]) for row in owned]
        candidates = [i for i in ids if i not in claimed and (stream, i) not in self._in_flight]
        if not candidates:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id in candidates:
                pipe.xrange(stream, min=entry_id, max=entry_id, count=1)
            found = await pipe.execute()
        for entry_id, rows in zip(candidates, found, strict=True):
            if not rows:  # verified gone, so acknowledging loses nothing
                self._acker.ack(stream, entry_id)

    async def _maintenance_loop(self) -> None:
        interval = min(self._settings.maintenance_interval_s, self._settings.trim_interval_s, 5.0)
        next_trim = time.monotonic() + self._settings.trim_interval_s
        next_cleanup = time.monotonic() + self._settings.maintenance_interval_s
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for stream in self.streams:
                try:
                    await self._publish_gauges(stream)
                    if self._trim and now >= next_trim:
                        await maintenance.trim_consumed(
                            self._redis,
                            stream,
                            required_groups=self._required_groups.get(stream, ()),
                            exact=self._settings.trim_exact,
                        )
                    if now >= next_cleanup:
                        removed = await maintenance.remove_idle_consumers(
                            self._redis,
                            stream,
                            self.group,
                            idle_ms=self._settings.consumer_cleanup_idle_ms,
                            keep=self.consumer,
                        )
                        if removed:
                            log.info("removed idle consumers", stream=stream, consumers=removed)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("maintenance failed", stream=stream, error=describe(exc))
            if now >= next_trim:
                next_trim = now + self._settings.trim_interval_s
            if now >= next_cleanup:
                next_cleanup = now + self._settings.maintenance_interval_s

    async def _publish_gauges(self, stream: str) -> None:
        for stats in await maintenance.group_stats(self._redis, stream):
            if stats.group == self.group:
                PENDING.labels(stream, self.group).set(stats.pending)
                if stats.lag is not None:
                    LAG.labels(stream, self.group).set(stats.lag)
