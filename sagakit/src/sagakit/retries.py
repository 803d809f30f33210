"""The retry and give-up policy: what happens to a delivery after its handler failed.

- A handler timeout or a dependency's error (`TRANSIENT_ERRORS`) while a dependency does not
  answer its ping (`DependencyCheck`) is waited out: the entry is re-claimed with XCLAIM
  JUSTID, which keeps it this consumer's without counting a delivery, so an outage or an
  overload does not dead-letter healthy messages.
- Any other failure, including a handler timeout or a transient error while every dependency
  answers, is retried after `Backoff.delay(n)` by re-claiming the entry with XCLAIM, so Redis'
  own delivery count grows with every attempt; once it reaches `max_deliveries` the entry goes
  to `dlq.<stream>` with the reason (`timeout` when the last attempt ran out of time,
  `max_deliveries` otherwise), the last error and its traceback's last frames. A message whose
  handler always hangs therefore ends there instead of blocking its key for ever.
- The key stays blocked while a retry waits, preserving per-key order.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from sagakit.backoff import Backoff
from sagakit.connections import TRANSIENT_ERRORS
from sagakit.consumer import ConsumerState
from sagakit.dead_letters import DeadLetters
from sagakit.dependencies import DependencyCheck
from sagakit.failure_details import NO_DETAILS, FailureDetails
from sagakit.intake import GiveUp, Intake
from sagakit.logs import describe, get_logger
from sagakit.metrics import RETRIED
from sagakit.replies import entries
from sagakit.routing import Delivery
from sagakit.traceback_limiter import TracebackLimiter

log = get_logger("sagakit.worker")


class RetryPolicy:
    def __init__(
        self,
        state: ConsumerState,
        intake: Intake,
        dead_letters: DeadLetters,
        dependencies: DependencyCheck,
    ) -> None:
        self._state = state
        self._intake = intake
        self._dead_letters = dead_letters
        self._dependencies = dependencies
        self._backoff = Backoff(state.settings.retry_base_s, state.settings.retry_cap_s)
        self._tracebacks = TracebackLimiter(state.settings.traceback_interval_s)

    def describe(self, error: BaseException, *, timed_out: bool) -> str:
        if timed_out:
            return f"handler timed out after {self._state.settings.handler_timeout_s:g} s"
        return describe(error)

    async def after_failure(
        self, delivery: Delivery, error: Exception, waited_out: int, *, timed_out: bool = False
    ) -> tuple[Delivery | None, int]:
        """The delivery to run again (None: nothing more to do here), and how many failures
        of this delivery have been waited out so far. `timed_out`: the handler's own timeout
        ended the attempt."""
        if timed_out or isinstance(error, TRANSIENT_ERRORS):
            down = await self._dependencies.unreachable()
            if down is not None:
                waited_out += 1
                return await self._wait_out(delivery, waited_out), waited_out
        try:
            return await self._retry(delivery, error, timed_out), waited_out
        except TRANSIENT_ERRORS:  # Redis went away while retrying: wait it out
            waited_out += 1
            return await self._wait_out(delivery, waited_out), waited_out

    async def _retry(
        self, delivery: Delivery, error: Exception, timed_out: bool
    ) -> Delivery | None:
        """Wait out the backoff and re-claim the entry, or dead-letter it after the limit."""
        counts = await self._intake.delivery_counts(delivery.stream, [delivery.entry_id])
        deliveries = counts.get(delivery.entry_id)
        if deliveries is None:  # no longer pending for this group: nothing left to do here
            return None
        if deliveries >= self._state.settings.max_deliveries:
            await self.give_up(
                GiveUp(
                    delivery.stream,
                    delivery.entry_id,
                    delivery.fields,
                    "timeout" if timed_out else "max_deliveries",
                    self.describe(error, timed_out=timed_out),
                    deliveries,
                    error,
                )
            )
            return None
        await asyncio.sleep(self._backoff.delay(deliveries))
        state = self._state
        claimed = entries(
            await state.redis.xclaim(
                delivery.stream,
                state.group,
                state.consumer,
                min_idle_time=0,
                message_ids=[delivery.entry_id],
            )
        )
        fields = claimed[0][1] if claimed else None
        if not fields:  # deleted meanwhile (Redis 6.2 returns a nil for it, 7 nothing)
            state.ack_deleted(delivery.stream, [delivery.entry_id])
            return None
        RETRIED.labels(delivery.stream, state.group).inc()
        return replace(delivery, fields=fields, attempt=deliveries + 1)

    async def _wait_out(self, delivery: Delivery, failures: int) -> Delivery | None:
        """Retry while a dependency is unreachable, without counting a delivery.

        A failure then says a server is away or overloaded, not that the message is poison,
        so it must not push healthy messages into the dead-letter stream. The entry
        is re-claimed with JUSTID, which keeps it this consumer's and fresh for the claim
        threshold without increasing Redis' delivery count.

        When Redis itself is away the re-claim fails too: keep waiting (the entry is still
        this consumer's) rather than leave it pending, where only the claim threshold would
        find it again, long after a saga step's deadline may have passed.
        """
        state = self._state
        while True:
            await asyncio.sleep(self._backoff.delay(failures))
            try:
                kept = await state.redis.xclaim(
                    delivery.stream,
                    state.group,
                    state.consumer,
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
        RETRIED.labels(delivery.stream, state.group).inc()
        return delivery

    async def give_up(self, work: GiveUp) -> None:
        exc = work.exception
        log.error(
            "dead-lettering",
            stream=work.stream,
            entry_id=work.entry_id,
            reason=work.reason,
            error=work.error,
            deliveries=work.deliveries,
            **(self._tracebacks.log_fields(work.stream, exc) if exc is not None else {}),
        )
        await self._dead_letters.send(
            stream=work.stream,
            group=self._state.group,
            entry_id=work.entry_id,
            fields=work.fields,
            reason=work.reason,
            error=work.error,
            deliveries=work.deliveries,
            failure=FailureDetails.of(exc) if exc is not None else NO_DETAILS,
        )
