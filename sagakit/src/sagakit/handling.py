"""Running a handler for each piece of work, under a timeout, and acknowledging success."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from sagakit.consumer import ConsumerState
from sagakit.early import ArrivedEarly, EarlyArrivals
from sagakit.envelope import PoisonMessage
from sagakit.intake import GiveUp, Work
from sagakit.logs import describe, get_logger
from sagakit.metrics import FAILED, HANDLER_SECONDS, PROCESSED
from sagakit.retries import RetryPolicy
from sagakit.routing import Delivery, Router
from sagakit.traceback_limiter import TracebackLimiter

log = get_logger("sagakit.worker")


class Handling:
    def __init__(
        self, state: ConsumerState, router: Router, retries: RetryPolicy, early: EarlyArrivals
    ) -> None:
        self._state = state
        self._router = router
        self._retries = retries
        self._early = early
        self._metric_children: dict[tuple[str, str], Any] = {}
        self._tracebacks = TracebackLimiter(state.settings.traceback_interval_s)

    async def process(self, key: str, work: Work) -> None:
        """The keyed scheduler's callback: one piece of work, start to end."""
        ref = (work.stream, work.entry_id)
        still_held = False
        try:
            if isinstance(work, GiveUp):
                await self._retries.give_up(work)
            else:
                with structlog.contextvars.bound_contextvars(
                    order_id=key, message_type=work.envelope.type, message_id=work.envelope.id
                ):
                    still_held = await self._handle(key, work)
        except Exception as exc:  # redis unreachable, group gone: the entry stays pending
            log.warning(
                "left pending after an error",
                stream=work.stream,
                entry_id=work.entry_id,
                error=describe(exc),
            )
        finally:
            if not still_held:
                self._state.in_flight.discard(ref)

    async def _handle(self, key: str, delivery: Delivery) -> bool:
        """Handle until acknowledged, dead-lettered or let go; True when the delivery was put
        back to run again later (it stays held)."""
        current: Delivery | None = delivery
        waited_out = 0
        failures = 0
        while current is not None:
            handler = self._router.handler_for(current.stream, current.envelope.type)
            if handler is None:
                self._state.acker.ack(current.stream, current.entry_id)
                return False
            started = time.perf_counter()
            deadline = asyncio.timeout(self._state.settings.handler_timeout_s)
            try:
                async with deadline:
                    await handler(current)
            except PoisonMessage as exc:
                await self._retries.give_up(
                    GiveUp(
                        current.stream,
                        current.entry_id,
                        current.fields,
                        "invalid_payload",
                        str(exc),
                        current.attempt,
                        exc,
                    )
                )
                return False
            except ArrivedEarly as exc:
                if self._early.put_back(key, current):
                    return True
                log.warning(
                    "still ahead of the message it follows",
                    stream=current.stream,
                    waited_s=self._state.settings.early_wait_s,
                )
                current, waited_out = await self._retries.after_failure(current, exc, waited_out)
            except Exception as exc:
                failures += 1
                timed_out = deadline.expired()
                self._children(current.stream, current.envelope.type)[1].inc()
                # One line per failure; the traceback only at an entry's first failure, and at
                # most once per interval for a storm of the same error.
                log.warning(
                    "handler failed",
                    stream=current.stream,
                    entry_id=current.entry_id,
                    attempt=current.attempt,
                    error=self._retries.describe(exc, timed_out=timed_out),
                    **(self._tracebacks.log_fields(current.stream, exc) if failures == 1 else {}),
                )
                current, waited_out = await self._retries.after_failure(
                    current, exc, waited_out, timed_out=timed_out
                )
            else:
                processed, _, latency = self._children(current.stream, current.envelope.type)
                latency.observe(time.perf_counter() - started)
                processed.inc()
                self._state.acker.ack(current.stream, current.entry_id)
                return False
        return False

    def _children(self, stream: str, message_type: str) -> Any:
        key = (stream, message_type)
        children = self._metric_children.get(key)
        if children is None:
            group = self._state.group
            children = (
                PROCESSED.labels(stream, group, message_type),
                FAILED.labels(stream, group, message_type),
                HANDLER_SECONDS.labels(stream, group),
            )
            self._metric_children[key] = children
        return children
