"""The saga orchestrator: turns a signal into one guarded write of the order document.

`advance` reads the order, asks the pure domain what the signal means, and applies the answer
as a Transition guarded by the status and version it read (and by the id of the message that
caused it), carrying the status event and the participant commands in the outbox. If the guard
misses, something else changed the order meanwhile: read again and decide again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from orders.domain import Decision, Effect, Signal, arrives_early, decide
from orders.metrics import SAGA_DURATION, SAGA_OUTCOMES, SAGA_TRANSITIONS
from orders.settings import OrdersSettings
from saga_contracts.messages import (
    AuthorizePayment,
    CancelDelivery,
    CancelTicket,
    CapturePayment,
    Line,
    OrderStatus,
    OrderStatusChanged,
    PrepareOrder,
    RefundPayment,
    RequestDelivery,
    VoidPayment,
)
from saga_contracts.topology import Streams
from sagakit.clock import now_ms, utcnow
from sagakit.deadlines import DEADLINE_AT
from sagakit.early import ArrivedEarly
from sagakit.envelope import Envelope, Message
from sagakit.logs import get_logger
from sagakit.outbox import Document, DocumentStore, Emit, Transition
from sagakit.recent import Recent
from sagakit.version_keys import key_version, version_key

log = get_logger("orders.saga")

MAX_ATTEMPTS = 10


class Outcome(Enum):
    APPLIED = "applied"
    IGNORED = "ignored"  # the signal means nothing in the current status
    DUPLICATE = "duplicate"  # this message was applied before
    STALE = "stale"  # a deadline for a version the order has left
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Advance:
    outcome: Outcome
    order: Document | None = None
    decision: Decision | None = None


def record_transition(order: Document, decision: Decision) -> None:
    assert decision.status is not None
    SAGA_TRANSITIONS.labels(decision.status.value).inc()
    if decision.status.terminal:
        reason = decision.reason.value if decision.reason is not None else ""
        SAGA_OUTCOMES.labels(decision.status.value, reason).inc()
        if "created_ms" in order:
            seconds = (now_ms() - int(order["created_ms"])) / 1000
            SAGA_DURATION.labels(decision.status.value).observe(max(seconds, 0.0))


def iso_now() -> str:
    # Timeline times are written by any replica and shown side by side: the one clock's.
    return utcnow().isoformat(timespec="milliseconds")


HISTORY = "history"  # every status of the order by version, to publish them again on request


def history_entry(status: OrderStatus, reason: str | None, at: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status.value, "at": at}
    if reason is not None:  # never a null reason
        entry["reason"] = reason
    return entry


def recorded_statuses(order: Document, after_version: int) -> list[OrderStatusChanged]:
    """The recorded status changes of the order above `after_version`, in version order."""
    found: list[OrderStatusChanged] = []
    for key, entry in (order.get(HISTORY) or {}).items():
        version = key_version(key)
        if version is not None and version > after_version:
            found.append(
                OrderStatusChanged(
                    order_id=order["_id"],
                    status=entry["status"],
                    version=version,
                    reason=entry.get("reason"),
                    at=entry["at"],
                )
            )
    return sorted(found, key=lambda event: event.version)


class KnownOrders:
    """The last version of each recent order this process read or wrote.

    A transition decided on it needs no read first; its guard (status and version) still
    decides, and a miss reloads from the database, so a stale entry costs one retry, never a
    wrong transition.
    """

    def __init__(self, capacity: int = 20_000, ended_capacity: int = 2_000) -> None:
        self._orders: Recent[str, Document] = Recent(capacity)
        # Ended orders still get a reply or two within seconds (a capture, a courier sent
        # home); a short memory of them saves those reads, and memory follows the orders in
        # flight instead of the last `capacity` orders.
        self._ended: Recent[str, Document] = Recent(ended_capacity)

    def get(self, order_id: str) -> Document | None:
        return self._orders.get(order_id) or self._ended.get(order_id)

    def put(self, order: Document) -> None:
        if OrderStatus(order["status"]).terminal:
            self._orders.pop(order["_id"])
            self._ended.put(order["_id"], order)
        else:
            self._orders.put(order["_id"], order)


class Saga:
    def __init__(self, orders: DocumentStore, streams: Streams, settings: OrdersSettings) -> None:
        self.orders = orders
        self.streams = streams
        self.settings = settings
        self.known = KnownOrders()

    async def load(self, order_id: str, *, fresh: bool = False) -> Document | None:
        order = None if fresh else self.known.get(order_id)
        if order is None:
            order = await self.orders.collection.find_one({"_id": order_id})
            if order is not None:
                self.known.put(order)
        return order

    async def advance(
        self,
        order_id: str,
        signal: Signal,
        *,
        cause: Envelope | None = None,
        at_version: int | None = None,
    ) -> Advance:
        """Apply `signal` to the order. `at_version` limits it to that version (deadlines)."""
        fresh = False
        for _ in range(MAX_ATTEMPTS):
            order = await self.load(order_id, fresh=fresh)
            if order is None:
                return Advance(Outcome.NOT_FOUND)
            if cause is not None and cause.id in (order.get("consumed") or {}):
                return Advance(Outcome.DUPLICATE, order)  # consumed ids are never removed
            if at_version is not None and order["version"] > at_version:
                return Advance(Outcome.STALE, order)
            behind = at_version is not None and order["version"] < at_version
            decision = None if behind else decide(OrderStatus(order["status"]), signal)
            if decision is None:
                if fresh:
                    if not behind and arrives_early(OrderStatus(order["status"]), signal):
                        raise ArrivedEarly(f"{signal.value} while the order is {order['status']}")
                    return Advance(Outcome.IGNORED, order)
                fresh = True  # decided on a remembered version: confirm with the database
                continue
            after = await self.orders.apply(order_id, self.transition(order, decision, cause))
            if after is None:
                fresh = True  # it changed meanwhile: read it again and decide again
                continue
            self.known.put(after)
            if decision.status is not None:
                record_transition(after, decision)
                log.info(
                    "order advanced",
                    order_id=order_id,
                    signal=signal.value,
                    status=decision.status.value,
                    version=after["version"],
                )
            return Advance(Outcome.APPLIED, after, decision)
        raise RuntimeError(f"order {order_id} kept changing under {signal.value}")

    async def on_deadline(self, order: Document) -> None:
        """DeadlineScheduler callback: the step the order waits for took too long."""
        await self.advance(order["_id"], Signal.DEADLINE, at_version=order["version"])

    def transition(self, order: Document, decision: Decision, cause: Envelope | None) -> Transition:
        version: int = order["version"]
        to_set: dict[str, Any] = {"updated_at": iso_now()}
        unset: list[str] = []
        inc: dict[str, int] = {}
        emit: list[Emit] = []
        if decision.status is not None:
            version += 1
            inc["version"] = 1
            to_set["status"] = decision.status.value
            if decision.reason is not None:
                to_set["reason"] = decision.reason.value
            timeout_ms = self.settings.timeout_ms(decision.status)
            if timeout_ms is None:
                unset.append(DEADLINE_AT)
            else:
                to_set[DEADLINE_AT] = now_ms() + timeout_ms
            if decision.stock is not None:
                to_set["stock_outcome"] = decision.stock.value
            reason = decision.reason.value if decision.reason is not None else None
            to_set[f"{HISTORY}.{version_key(version)}"] = history_entry(
                decision.status, reason, to_set["updated_at"]
            )
            changed = OrderStatusChanged(
                order_id=order["_id"],
                status=decision.status,
                version=version,
                reason=decision.reason,
                at=datetime.fromisoformat(to_set["updated_at"]),
            )
            emit.append(
                Emit(self.streams.orders_events, self._wrap(changed, order, version, cause))
            )
        for effect in decision.effects:
            stream, command = self.command(effect, order)
            emit.append(Emit(stream, self._wrap(command, order, version, cause)))
        return Transition(
            expect={"status": order["status"], "version": order["version"]},
            set=to_set,
            unset=unset,
            inc=inc,
            emit=emit,
            consumed=cause.id if cause is not None else None,
        )

    def command(self, effect: Effect, order: Document) -> tuple[str, Message]:
        order_id: str = order["_id"]
        total: int = order["total_cents"]
        s = self.streams
        match effect:
            case Effect.AUTHORIZE_PAYMENT:
                return s.payments_commands, AuthorizePayment(order_id=order_id, amount_cents=total)
            case Effect.VOID_PAYMENT:
                return s.payments_commands, VoidPayment(order_id=order_id)
            case Effect.REFUND_PAYMENT:
                return s.payments_commands, RefundPayment(order_id=order_id, amount_cents=total)
            case Effect.CAPTURE_PAYMENT:
                return s.payments_commands, CapturePayment(order_id=order_id, amount_cents=total)
            case Effect.PREPARE:
                lines = [
                    Line(item_id=line["item_id"], name=line["name"], quantity=line["quantity"])
                    for line in order["lines"]
                ]
                return s.kitchen_commands, PrepareOrder(order_id=order_id, lines=lines)
            case Effect.CANCEL_TICKET:
                return s.kitchen_commands, CancelTicket(order_id=order_id)
            case Effect.REQUEST_DELIVERY:
                address: str = order["customer"]["address"]
                return s.delivery_commands, RequestDelivery(order_id=order_id, address=address)
            case Effect.CANCEL_DELIVERY:
                return s.delivery_commands, CancelDelivery(order_id=order_id)

    @staticmethod
    def _wrap(message: Message, order: Document, version: int, cause: Envelope | None) -> Envelope:
        return message.envelope(key=order["_id"], version=version, causation=cause)
