"""The saga state machine under any interleaving of replies, duplicates and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from orders.domain import (
    INITIAL_EFFECTS,
    TABLE,
    Effect,
    Signal,
    StockOutcome,
    arrives_early,
    can_customer_cancel,
    deadline_step,
    decide,
)
from saga_contracts.messages import CancelReason, OrderStatus

S = OrderStatus

# A message is a signal with an id; the same (signal, id) twice is a redelivery.
messages = st.lists(
    st.tuples(st.sampled_from(list(Signal)), st.integers(min_value=0, max_value=30)),
    max_size=40,
)


@dataclass
class Order:
    """An order as the store keeps it: guarded transitions and consumed message ids."""

    status: OrderStatus = S.PLACED
    reason: CancelReason | None = None
    version: int = 1
    consumed: set[tuple[Signal, int]] = field(default_factory=set)
    effects: list[Effect] = field(default_factory=lambda: list(INITIAL_EFFECTS))
    stock: StockOutcome | None = None
    terminal_transitions: int = 0
    history: list[OrderStatus] = field(default_factory=lambda: [S.PLACED])

    def receive(self, signal: Signal, message_id: int | None) -> None:
        if message_id is not None and (signal, message_id) in self.consumed:
            return
        decision = decide(self.status, signal)
        if decision is None:
            return
        if message_id is not None:
            self.consumed.add((signal, message_id))
        self.effects.extend(decision.effects)
        if decision.status is not None:
            self.status = decision.status
            self.reason = decision.reason
            self.version += 1
            self.history.append(decision.status)
            if decision.status.terminal:
                self.terminal_transitions += 1
                self.stock = decision.stock


def run(sequence: list[tuple[Signal, int]]) -> Order:
    order = Order()
    for signal, message_id in sequence:
        # deadlines and customer requests carry no message id; replies do
        carries_id = signal not in (Signal.DEADLINE, Signal.CUSTOMER_CANCEL)
        order.receive(signal, message_id if carries_id else None)
    return order


@given(messages)
def test_a_deadline_after_anything_ends_the_order_exactly_once(
    sequence: list[tuple[Signal, int]],
) -> None:
    order = run(sequence)
    order.receive(Signal.DEADLINE, None)
    assert order.status.terminal
    assert order.terminal_transitions == 1
    assert order.version == len(order.history)


@given(messages)
def test_terminal_status_is_final_and_versions_count_transitions(
    sequence: list[tuple[Signal, int]],
) -> None:
    order = run(sequence)
    terminal_at = next((i for i, s in enumerate(order.history) if s.terminal), None)
    if terminal_at is not None:
        assert terminal_at == len(order.history) - 1
    assert order.terminal_transitions <= 1
    assert order.version == len(order.history)


@given(messages)
def test_stock_goes_back_exactly_when_nothing_was_cooked(
    sequence: list[tuple[Signal, int]],
) -> None:
    order = run(sequence)
    order.receive(Signal.DEADLINE, None)
    cooked = S.PREPARING in order.history
    if order.status is S.DELIVERED:
        assert order.stock is StockOutcome.SOLD
    else:
        assert order.stock is (StockOutcome.SOLD if cooked else StockOutcome.RELEASE)


@given(messages)
def test_money_is_captured_only_on_delivery_and_given_back_otherwise(
    sequence: list[tuple[Signal, int]],
) -> None:
    order = run(sequence)
    order.receive(Signal.DEADLINE, None)
    captured = order.effects.count(Effect.CAPTURE_PAYMENT)
    if order.status is S.DELIVERED:
        assert captured == 1
        assert Effect.VOID_PAYMENT not in order.effects
        assert Effect.REFUND_PAYMENT not in order.effects
    else:
        assert captured == 0
        authorized = any(s is Signal.PAYMENT_AUTHORIZED for s, _ in sequence)
        if authorized:
            assert {Effect.VOID_PAYMENT, Effect.REFUND_PAYMENT} & set(order.effects)


@given(messages)
def test_a_late_authorisation_after_cancelling_is_voided(
    sequence: list[tuple[Signal, int]],
) -> None:
    order = run(sequence)
    order.receive(Signal.DEADLINE, None)
    if order.status is S.CANCELLED:
        before = order.effects.count(Effect.VOID_PAYMENT)
        order.receive(Signal.PAYMENT_AUTHORIZED, 10_000)
        assert order.effects.count(Effect.VOID_PAYMENT) == before + 1
        order.receive(Signal.PAYMENT_AUTHORIZED, 10_000)  # its redelivery changes nothing
        assert order.effects.count(Effect.VOID_PAYMENT) == before + 1


def test_the_happy_path() -> None:
    order = run(
        [
            (Signal.PAYMENT_AUTHORIZED, 1),
            (Signal.KITCHEN_ACCEPTED, 2),
            (Signal.KITCHEN_READY, 3),
            (Signal.COURIER_ASSIGNED, 4),
            (Signal.PICKED_UP, 5),
            (Signal.DELIVERED, 6),
        ]
    )
    assert order.history == [
        S.PLACED,
        S.PAID,
        S.PREPARING,
        S.READY,
        S.COURIER_ASSIGNED,
        S.PICKED_UP,
        S.DELIVERED,
    ]
    assert order.effects == [
        Effect.AUTHORIZE_PAYMENT,
        Effect.PREPARE,
        Effect.REQUEST_DELIVERY,
        Effect.CAPTURE_PAYMENT,
    ]


def test_every_non_terminal_status_has_a_deadline_and_customer_cancel_rules() -> None:
    for status in OrderStatus:
        assert (deadline_step(status) is None) == status.terminal
        assert (Signal.DEADLINE in TABLE[status]) == (not status.terminal)
    assert {s for s in OrderStatus if can_customer_cancel(s)} == {S.PLACED, S.PAID}


def test_each_failure_has_its_reason() -> None:
    cases = {
        (S.PLACED, Signal.PAYMENT_DECLINED): CancelReason.PAYMENT_DECLINED,
        (S.PLACED, Signal.DEADLINE): CancelReason.TIMEOUT,
        (S.PAID, Signal.KITCHEN_REJECTED): CancelReason.KITCHEN_REJECTED,
        (S.PAID, Signal.DEADLINE): CancelReason.TIMEOUT,
        (S.PREPARING, Signal.DEADLINE): CancelReason.TIMEOUT,
        (S.READY, Signal.NO_COURIER): CancelReason.NO_COURIER,
        (S.READY, Signal.DEADLINE): CancelReason.NO_COURIER,
        (S.PICKED_UP, Signal.DELIVERY_FAILED): CancelReason.DELIVERY_FAILED,
        (S.PAID, Signal.CUSTOMER_CANCEL): CancelReason.CUSTOMER_CANCELLED,
    }
    for (status, signal), reason in cases.items():
        decision = decide(status, signal)
        assert decision is not None
        assert (decision.status, decision.reason) == (S.CANCELLED, reason)


# ---- replicas: the same replies in any order ------------------------------------------------

SIG = Signal
# What participants answer over one order's life, in the order they answer it.
REPLY_SCRIPTS = [
    [SIG.PAYMENT_AUTHORIZED, SIG.KITCHEN_ACCEPTED, SIG.KITCHEN_READY, SIG.COURIER_ASSIGNED,
     SIG.PICKED_UP, SIG.DELIVERED],
    [SIG.PAYMENT_AUTHORIZED, SIG.KITCHEN_REJECTED],
    [SIG.PAYMENT_AUTHORIZED, SIG.KITCHEN_ACCEPTED, SIG.KITCHEN_READY, SIG.COURIER_ASSIGNED,
     SIG.DELIVERY_FAILED],
    [SIG.PAYMENT_AUTHORIZED, SIG.KITCHEN_ACCEPTED, SIG.KITCHEN_READY, SIG.NO_COURIER],
    [SIG.PAYMENT_DECLINED],
]  # fmt: skip
# A failure reported after a step that succeeded (a kitchen giving up on a ticket it accepted,
# a courier failing after the pick-up) is applicable before that step too: if it overtakes the
# step's reply, the order ends the same way (status, reason, commands) but its timeline lacks
# the step, and stock taken by a kitchen that accepted is released instead of sold.
OUTCOME_ONLY_SCRIPTS = [
    [SIG.PAYMENT_AUTHORIZED, SIG.KITCHEN_ACCEPTED, SIG.KITCHEN_READY, SIG.COURIER_ASSIGNED,
     SIG.PICKED_UP, SIG.DELIVERY_FAILED],
]  # fmt: skip


def deliver_in_any_order(script: list[Signal], picks: list[int]) -> Order:
    """Replicas hand the saga the replies in the order `picks` chooses; one that arrives
    early is put back and comes again later, as the worker does with ArrivedEarly."""
    order = Order()
    waiting = list(enumerate(script))
    choices = iter(picks)
    while waiting:
        assert any(not arrives_early(order.status, s) for _, s in waiting), (
            f"every remaining reply waits for another: {waiting} in {order.status}"
        )
        index, signal = waiting.pop(next(choices, 0) % len(waiting))
        if arrives_early(order.status, signal):
            waiting.append((index, signal))  # put back behind the others
            continue
        order.receive(signal, index)
    return order


def deliver_in_order(script: list[Signal]) -> Order:
    order = Order()
    for index, signal in enumerate(script):
        order.receive(signal, index)
    return order


@given(
    script=st.sampled_from(REPLY_SCRIPTS),
    picks=st.lists(st.integers(min_value=0, max_value=10**6), max_size=60),
)
def test_replies_applied_by_any_replica_in_any_order_give_the_same_order(
    script: list[Signal], picks: list[int]
) -> None:
    in_order = deliver_in_order(script)
    any_order = deliver_in_any_order(script, picks)
    assert any_order.history == in_order.history
    assert (any_order.status, any_order.reason, any_order.version) == (
        in_order.status,
        in_order.reason,
        in_order.version,
    )
    assert any_order.effects == in_order.effects


@given(
    script=st.sampled_from(OUTCOME_ONLY_SCRIPTS),
    picks=st.lists(st.integers(min_value=0, max_value=10**6), max_size=60),
)
def test_a_failure_overtaking_its_step_ends_the_order_the_same_way(
    script: list[Signal], picks: list[int]
) -> None:
    in_order = deliver_in_order(script)
    any_order = deliver_in_any_order(script, picks)
    assert (any_order.status, any_order.reason, any_order.stock) == (
        in_order.status,
        in_order.reason,
        in_order.stock,
    )
    assert any_order.effects == in_order.effects


def test_a_reply_that_follows_one_not_yet_applied_is_early_not_ignored() -> None:
    assert arrives_early(S.PAID, Signal.KITCHEN_READY)
    assert arrives_early(S.COURIER_ASSIGNED, Signal.DELIVERED)
    assert arrives_early(S.READY, Signal.PICKED_UP)
    # late, duplicate, or never waiting: not early
    assert not arrives_early(S.READY, Signal.KITCHEN_ACCEPTED)
    assert not arrives_early(S.PLACED, Signal.PAYMENT_AUTHORIZED)
    assert not arrives_early(S.CANCELLED, Signal.DELIVERED)
    assert not arrives_early(S.PAID, Signal.DEADLINE)
    assert not arrives_early(S.PREPARING, Signal.CUSTOMER_CANCEL)


@given(st.sampled_from(list(OrderStatus)), st.sampled_from(list(Signal)))
def test_a_signal_is_never_both_applicable_and_early(status: OrderStatus, signal: Signal) -> None:
    if decide(status, signal) is not None or status.terminal:
        assert not arrives_early(status, signal)
