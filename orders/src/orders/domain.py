"""The order saga as a pure state machine: (status, signal) -> decision. No I/O.

Every non-terminal status has a deadline and every signal in every status has a defined
answer (a transition, commands without a transition, or nothing), so any interleaving of
replies, duplicates and timeouts ends in exactly one terminal status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from saga_contracts.messages import CancelReason, OrderStatus

S = OrderStatus
R = CancelReason


class Signal(StrEnum):
    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_DECLINED = "payment_declined"
    KITCHEN_ACCEPTED = "kitchen_accepted"
    KITCHEN_REJECTED = "kitchen_rejected"
    KITCHEN_READY = "kitchen_ready"
    COURIER_ASSIGNED = "courier_assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    NO_COURIER = "no_courier"
    DEADLINE = "deadline"
    CUSTOMER_CANCEL = "customer_cancel"


class Effect(StrEnum):
    """A command the saga sends to a participant."""

    AUTHORIZE_PAYMENT = "authorize_payment"
    VOID_PAYMENT = "void_payment"
    REFUND_PAYMENT = "refund_payment"
    CAPTURE_PAYMENT = "capture_payment"
    PREPARE = "prepare"
    CANCEL_TICKET = "cancel_ticket"
    REQUEST_DELIVERY = "request_delivery"
    CANCEL_DELIVERY = "cancel_delivery"


class StockOutcome(StrEnum):
    """What becomes of the order's reserved stock when it ends."""

    RELEASE = "release"  # nothing was cooked: the stock goes back on sale
    SOLD = "sold"  # the kitchen took it: the stock is gone


@dataclass(frozen=True)
class Decision:
    """A new status (None: commands only) with its reason, commands and, at the end, the stock."""

    status: OrderStatus | None
    reason: CancelReason | None = None
    effects: tuple[Effect, ...] = ()
    stock: StockOutcome | None = None

    def __post_init__(self) -> None:
        if self.status is None and not self.effects:
            raise ValueError("a decision changes the status or sends a command")
        if (self.status is not None and self.status.terminal) != (self.stock is not None):
            raise ValueError("exactly the terminal decisions settle the stock")


def _to(status: OrderStatus, *effects: Effect) -> Decision:
    stock = StockOutcome.SOLD if status is S.DELIVERED else None
    return Decision(status, None, effects, stock)


def _cancel(reason: CancelReason, *effects: Effect, stock: StockOutcome) -> Decision:
    return Decision(S.CANCELLED, reason, effects, stock)


def _only(*effects: Effect) -> Decision:
    return Decision(None, None, effects)


E = Effect
RELEASE, SOLD = StockOutcome.RELEASE, StockOutcome.SOLD

TABLE: dict[OrderStatus, dict[Signal, Decision]] = {
    S.PLACED: {
        Signal.PAYMENT_AUTHORIZED: _to(S.PAID, E.PREPARE),
        Signal.PAYMENT_DECLINED: _cancel(R.PAYMENT_DECLINED, stock=RELEASE),
        # the authorisation may still be on its way: void whatever comes
        Signal.DEADLINE: _cancel(R.TIMEOUT, E.VOID_PAYMENT, stock=RELEASE),
        Signal.CUSTOMER_CANCEL: _cancel(R.CUSTOMER_CANCELLED, E.VOID_PAYMENT, stock=RELEASE),
    },
    S.PAID: {
        Signal.KITCHEN_ACCEPTED: _to(S.PREPARING),
        Signal.KITCHEN_REJECTED: _cancel(R.KITCHEN_REJECTED, E.VOID_PAYMENT, stock=RELEASE),
        Signal.DEADLINE: _cancel(R.TIMEOUT, E.VOID_PAYMENT, E.CANCEL_TICKET, stock=RELEASE),
        Signal.CUSTOMER_CANCEL: _cancel(
            R.CUSTOMER_CANCELLED, E.VOID_PAYMENT, E.CANCEL_TICKET, stock=RELEASE
        ),
    },
    S.PREPARING: {
        Signal.KITCHEN_READY: _to(S.READY, E.REQUEST_DELIVERY),
        Signal.KITCHEN_REJECTED: _cancel(R.KITCHEN_REJECTED, E.VOID_PAYMENT, stock=SOLD),
        Signal.DEADLINE: _cancel(R.TIMEOUT, E.VOID_PAYMENT, E.CANCEL_TICKET, stock=SOLD),
    },
    S.READY: {
        Signal.COURIER_ASSIGNED: _to(S.COURIER_ASSIGNED),
        Signal.NO_COURIER: _cancel(R.NO_COURIER, E.REFUND_PAYMENT, stock=SOLD),
        Signal.DEADLINE: _cancel(R.NO_COURIER, E.REFUND_PAYMENT, E.CANCEL_DELIVERY, stock=SOLD),
    },
    S.COURIER_ASSIGNED: {
        Signal.PICKED_UP: _to(S.PICKED_UP),
        Signal.DELIVERY_FAILED: _cancel(R.DELIVERY_FAILED, E.REFUND_PAYMENT, stock=SOLD),
        Signal.DEADLINE: _cancel(
            R.DELIVERY_FAILED, E.REFUND_PAYMENT, E.CANCEL_DELIVERY, stock=SOLD
        ),
    },
    S.PICKED_UP: {
        Signal.DELIVERED: _to(S.DELIVERED, E.CAPTURE_PAYMENT),
        Signal.DELIVERY_FAILED: _cancel(R.DELIVERY_FAILED, E.REFUND_PAYMENT, stock=SOLD),
        Signal.DEADLINE: _cancel(
            R.DELIVERY_FAILED, E.REFUND_PAYMENT, E.CANCEL_DELIVERY, stock=SOLD
        ),
    },
    # After the end, late replies still get their compensation: a payment authorised after
    # the order was cancelled is voided, a courier assigned to it is sent home.
    S.CANCELLED: {
        Signal.PAYMENT_AUTHORIZED: _only(E.VOID_PAYMENT),
        Signal.COURIER_ASSIGNED: _only(E.CANCEL_DELIVERY),
    },
    S.DELIVERED: {},
}

INITIAL_STATUS = S.PLACED
INITIAL_EFFECTS: tuple[Effect, ...] = (Effect.AUTHORIZE_PAYMENT,)

# Each non-terminal status waits for one step; its deadline is named after that step.
DEADLINE_STEP: dict[OrderStatus, str] = {
    S.PLACED: "payment",
    S.PAID: "kitchen_accept",
    S.PREPARING: "kitchen_ready",
    S.READY: "courier_assign",
    S.COURIER_ASSIGNED: "pickup",
    S.PICKED_UP: "delivery",
}


def decide(status: OrderStatus, signal: Signal) -> Decision | None:
    """The saga's answer to `signal` in `status`; None when the signal changes nothing."""
    return TABLE[status].get(signal)


# The statuses an order passes through when nothing fails, in order.
HAPPY_PATH: tuple[OrderStatus, ...] = (
    S.PLACED,
    S.PAID,
    S.PREPARING,
    S.READY,
    S.COURIER_ASSIGNED,
    S.PICKED_UP,
    S.DELIVERED,
)


def arrives_early(status: OrderStatus, signal: Signal) -> bool:
    """True when `signal` answers a step the order has not reached yet: the reply it follows
    (e.g. `kitchen_accepted` before `kitchen_ready`) is still being handled, by another
    replica, and the signal must wait for it rather than be dropped.

    A signal is early when the order is still short of every status where the table has an
    answer for it. Anything else that changes nothing is late or a duplicate, and is ignored.
    """
    if status.terminal or decide(status, signal) is not None:
        return False
    answered_in = [s for s in HAPPY_PATH if signal in TABLE[s]]
    return bool(answered_in) and HAPPY_PATH.index(status) < HAPPY_PATH.index(answered_in[0])


def can_customer_cancel(status: OrderStatus) -> bool:
    return Signal.CUSTOMER_CANCEL in TABLE[status]


def deadline_step(status: OrderStatus) -> str | None:
    return DEADLINE_STEP.get(status)
