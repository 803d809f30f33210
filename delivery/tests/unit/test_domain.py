"""The delivery state machine and the fleet rules, property-tested."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from delivery.domain import (
    AssignCourier,
    Cancel,
    CourierReport,
    DeadlinePassed,
    Decision,
    DeliveryState,
    Effect,
    Input,
    Report,
    Status,
    Verdict,
    decide,
    judge_busy_courier,
)

COURIERS = ["c1", "c2", "c3"]
ALLOWED = {
    Status.WAITING: {Status.ASSIGNED, Status.NO_COURIER, Status.CANCELLED},
    Status.ASSIGNED: {Status.PICKED_UP, Status.DELIVERED, Status.FAILED, Status.CANCELLED},
    Status.PICKED_UP: {Status.DELIVERED, Status.FAILED, Status.CANCELLED},
}
TERMINAL_FACTS = {Effect.ANNOUNCE_DELIVERED, Effect.ANNOUNCE_FAILED, Effect.ANNOUNCE_NO_COURIER}

couriers = st.sampled_from(COURIERS)
inputs: st.SearchStrategy[Input] = st.one_of(
    st.builds(AssignCourier, couriers),
    st.just(DeadlinePassed()),
    st.builds(CourierReport, st.sampled_from(list(Report)), couriers),
    st.just(Cancel()),
)
WAITING = DeliveryState(Status.WAITING)


def run(events: list[Input]) -> tuple[DeliveryState, list[DeliveryState], list[Effect]]:
    state, history, emitted = WAITING, [WAITING], list[Effect]()
    for event in events:
        decision = decide(state, event)
        emitted.extend(decision.effects)
        if decision.next is not None:
            state = decision.next
            history.append(state)
    return state, history, emitted


# ---- one delivery ----------------------------------------------------------------------------


@given(st.lists(inputs, max_size=30))
def test_any_input_sequence_ends_in_at_most_one_terminal_status(events: list[Input]) -> None:
    _, history, emitted = run(events)
    ended = [s for s in history if s.status.ended]
    assert len(ended) <= 1, history
    assert not history[-1].status.ended or history[-1] == ended[0]
    assert sum(e in TERMINAL_FACTS for e in emitted) <= 1, emitted


@given(st.lists(inputs, max_size=30))
def test_transitions_follow_the_lifecycle_and_keep_one_courier(events: list[Input]) -> None:
    _, history, emitted = run(events)
    for before, after in itertools.pairwise(history):
        assert after.status in ALLOWED.get(before.status, set()), (before, after)
        if before.courier_id is not None:
            assert after.courier_id == before.courier_id  # never a second courier
    for effect in Effect:
        assert emitted.count(effect) <= 1, emitted
    assert (Effect.ANNOUNCE_ASSIGNED in emitted) == (Effect.DISPATCH in emitted)
    if Effect.ANNOUNCE_DELIVERED in emitted:
        assert Effect.ANNOUNCE_PICKED_UP in emitted
        assert emitted.index(Effect.ANNOUNCE_PICKED_UP) < emitted.index(Effect.ANNOUNCE_DELIVERED)


@given(st.lists(inputs, max_size=20), inputs)
def test_an_input_repeated_at_once_changes_nothing_the_second_time(
    events: list[Input], repeated: Input
) -> None:
    state, _, _ = run(events)
    first = decide(state, repeated)
    after = first.next or state
    second = decide(after, repeated)
    assert second.next is None
    assert second.effects == ()


@given(st.lists(inputs, max_size=20), inputs)
def test_a_decision_never_frees_the_courier_the_delivery_keeps(
    events: list[Input], event: Input
) -> None:
    state, _, _ = run(events)
    decision = decide(state, event)
    after = decision.next or state
    if decision.release is not None:
        assert not after.serves(decision.release)
        assert after.status is not Status.WAITING  # an assignment may be under way


def test_the_happy_path() -> None:
    state, history, emitted = run(
        [
            AssignCourier("c1"),
            CourierReport(Report.PICKED_UP, "c1"),
            CourierReport(Report.DELIVERED, "c1"),
        ]
    )
    assert [s.status for s in history] == [
        Status.WAITING,
        Status.ASSIGNED,
        Status.PICKED_UP,
        Status.DELIVERED,
    ]
    assert state == DeliveryState(Status.DELIVERED, "c1")
    assert emitted == [
        Effect.ANNOUNCE_ASSIGNED,
        Effect.DISPATCH,
        Effect.ANNOUNCE_PICKED_UP,
        Effect.ANNOUNCE_DELIVERED,
    ]


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        # the courier finishing its job is freed with the final write
        (
            DeliveryState(Status.PICKED_UP, "c1"),
            CourierReport(Report.FAILED, "c1", "flat tyre"),
            Decision(DeliveryState(Status.FAILED, "c1"), (Effect.ANNOUNCE_FAILED,), "c1"),
        ),
        # cancelling a delivery on the road frees its courier; no event
        (
            DeliveryState(Status.ASSIGNED, "c1"),
            Cancel(),
            Decision(DeliveryState(Status.CANCELLED, "c1"), (), "c1"),
        ),
        (WAITING, Cancel(), Decision(DeliveryState(Status.CANCELLED))),
        # a late report for a cancelled delivery is ignored, its courier freed
        (
            DeliveryState(Status.CANCELLED, "c1"),
            CourierReport(Report.DELIVERED, "c1"),
            Decision(release="c1"),
        ),
        # a courier that lost the race for an assignment goes back
        (DeliveryState(Status.ASSIGNED, "c1"), AssignCourier("c2"), Decision(release="c2")),
        (DeliveryState(Status.ASSIGNED, "c1"), AssignCourier("c1"), Decision()),
        # a report from a courier the delivery does not know, while it waits: hands off
        (WAITING, CourierReport(Report.PICKED_UP, "c2"), Decision()),
        (DeliveryState(Status.ASSIGNED, "c1"), DeadlinePassed(), Decision()),
    ],
)
def test_decisions(state: DeliveryState, event: Input, expected: Decision) -> None:
    assert decide(state, event) == expected


@pytest.mark.parametrize(
    ("delivery", "verdict"),
    [
        (None, Verdict.RELEASE),
        (WAITING, Verdict.RESUME_ASSIGNMENT),
        (DeliveryState(Status.ASSIGNED, "c1"), Verdict.KEEP),
        (DeliveryState(Status.PICKED_UP, "c1"), Verdict.KEEP),
        (DeliveryState(Status.PICKED_UP, "c2"), Verdict.RELEASE),
        (DeliveryState(Status.DELIVERED, "c1"), Verdict.RELEASE),
        (DeliveryState(Status.CANCELLED, "c1"), Verdict.RELEASE),
    ],
)
def test_judging_a_busy_courier(delivery: DeliveryState | None, verdict: Verdict) -> None:
    assert judge_busy_courier(delivery, "c1") is verdict


# ---- the fleet -------------------------------------------------------------------------------

ORDERS = ["o1", "o2", "o3"]
orders = st.sampled_from(ORDERS)


class FleetModel(RuleBasedStateMachine):
    """Deliveries and couriers driven the way the service drives them, with assignment
    attempts that interleave, lose races and crash between the claim and the write.

    The fleet behaves like the `couriers` collection: a claim takes an idle courier
    atomically, a release frees a courier only if it still holds that order.
    """

    @initialize(size=st.integers(1, 3))
    def setup(self, size: int) -> None:
        self.fleet: dict[str, str | None] = {c: None for c in COURIERS[:size]}
        self.deliveries: dict[str, DeliveryState] = {}
        self.attempts: list[tuple[str, str]] = []  # claimed, transition not yet written

    def apply(self, order_id: str, event: Input) -> None:
        decision = decide(self.deliveries[order_id], event)
        if decision.next is not None:
            self.deliveries[order_id] = decision.next
        if decision.release is not None and self.fleet.get(decision.release) == order_id:
            self.fleet[decision.release] = None

    def claim(self, order_id: str) -> str | None:
        held = [c for c, o in self.fleet.items() if o == order_id]
        if held:
            return held[0]
        idle = [c for c, o in self.fleet.items() if o is None]
        if not idle:
            return None
        self.fleet[idle[0]] = order_id
        return idle[0]

    @rule(order_id=orders)
    def request(self, order_id: str) -> None:
        self.deliveries.setdefault(order_id, WAITING)

    @rule(order_id=orders)
    def begin_assignment(self, order_id: str) -> None:
        """An attempt that read the delivery as waiting claims a courier (or reuses the one
        an interrupted attempt left holding the order)."""
        if order_id in self.deliveries and self.deliveries[order_id].status is Status.WAITING:
            courier = self.claim(order_id)
            if courier is not None:
                self.attempts.append((order_id, courier))

    @precondition(lambda self: self.attempts)
    @rule(index=st.integers(0, 10), crash=st.booleans())
    def end_assignment(self, index: int, crash: bool) -> None:
        """The attempt writes the transition (by now the delivery may have moved on), or its
        process dies first and the courier stays claimed."""
        order_id, courier = self.attempts.pop(index % len(self.attempts))
        if not crash:
            self.apply(order_id, AssignCourier(courier))

    @rule(order_id=orders, report=st.sampled_from(list(Report)),
          sender=st.sampled_from(["assigned", "holder", "any"]), courier=couriers)  # fmt: skip
    def courier_reports(self, order_id: str, report: Report, sender: str, courier: str) -> None:
        """From the delivery's courier, from one holding the order (perhaps mid-assignment),
        or from any courier (stray, late or duplicate reports)."""
        if order_id not in self.deliveries:
            return
        state = self.deliveries[order_id]
        holders = [c for c, o in self.fleet.items() if o == order_id]
        chosen = {"assigned": state.courier_id, "holder": holders[0] if holders else None}
        sender_id = chosen.get(sender, courier)
        if sender_id is not None:
            self.apply(order_id, CourierReport(report, sender_id))

    @rule(order_id=orders)
    def cancel(self, order_id: str) -> None:
        if order_id in self.deliveries:
            self.apply(order_id, Cancel())

    @rule(order_id=orders)
    def deadline(self, order_id: str) -> None:
        if order_id in self.deliveries:
            self.apply(order_id, DeadlinePassed())

    @rule()
    def janitor(self) -> None:
        for courier, order_id in list(self.fleet.items()):
            if order_id is None:
                continue
            verdict = judge_busy_courier(self.deliveries.get(order_id), courier)
            if verdict is Verdict.RELEASE:
                self.fleet[courier] = None
            elif verdict is Verdict.RESUME_ASSIGNMENT:
                self.apply(order_id, AssignCourier(courier))

    @rule()
    def settle(self) -> None:
        """Every interrupted attempt is over and the janitor has run: no courier is leaked."""
        self.attempts.clear()
        self.janitor()
        for courier, order_id in self.fleet.items():
            if order_id is not None:
                assert self.deliveries[order_id].serves(courier), (courier, order_id)

    @invariant()
    def a_delivery_on_the_road_keeps_its_courier_booked_for_it(self) -> None:
        serving = [d.courier_id for d in self.deliveries.values() if d.status.on_the_road]
        assert len(serving) == len(set(serving)), self.deliveries  # no courier twice
        for order_id, delivery in self.deliveries.items():
            if delivery.status.on_the_road:
                assert delivery.courier_id is not None
                assert self.fleet[delivery.courier_id] == order_id, (self.fleet, self.deliveries)


TestFleetModel = FleetModel.TestCase
TestFleetModel.settings = settings(max_examples=500, stateful_step_count=30, deadline=None)
