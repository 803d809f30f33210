"""The delivery state machine and the fleet's rules, as pure functions (no I/O).

A delivery waits for a courier, is assigned one, is picked up, and ends delivered, failed,
without a courier (its deadline passed) or cancelled. `decide` says what one input does to a
delivery: the next state, the facts and commands to emit in that same write, and which
courier to free. Freeing is always "this courier, if it still holds this order", so a
decision to free can never release a courier that serves another order.

The one rule that keeps the fleet consistent: a courier holding an order whose delivery is
still waiting is never freed, because an assignment of exactly that courier may be under way
(claimed, not yet written). Once a delivery has left `waiting` it can never get a courier
again, so any courier holding it other than the one it recorded is stale and may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    FAILED = "failed"
    NO_COURIER = "no_courier"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in _ENDED

    @property
    def on_the_road(self) -> bool:
        """A courier is serving this delivery (it must stay booked)."""
        return self in (Status.ASSIGNED, Status.PICKED_UP)


_ENDED = frozenset({Status.DELIVERED, Status.FAILED, Status.NO_COURIER, Status.CANCELLED})


class CourierStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"


@dataclass(frozen=True)
class DeliveryState:
    status: Status
    courier_id: str | None = None

    def serves(self, courier_id: str) -> bool:
        return self.status.on_the_road and self.courier_id == courier_id


# ---- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignCourier:
    """A courier has been claimed for this delivery (it holds the order in the fleet)."""

    courier_id: str


@dataclass(frozen=True)
class DeadlinePassed:
    """The no-courier deadline fired."""


class Report(StrEnum):
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class CourierReport:
    report: Report
    courier_id: str
    detail: str = ""


@dataclass(frozen=True)
class Cancel:
    """The order was cancelled."""


Input = AssignCourier | DeadlinePassed | CourierReport | Cancel


# ---- outputs ---------------------------------------------------------------------------------


class Effect(StrEnum):
    """What a transition emits, in this order, in the same write."""

    ANNOUNCE_ASSIGNED = "delivery.courier_assigned"
    DISPATCH = "courier.dispatch"
    ANNOUNCE_PICKED_UP = "delivery.picked_up"
    ANNOUNCE_DELIVERED = "delivery.delivered"
    ANNOUNCE_FAILED = "delivery.failed"
    ANNOUNCE_NO_COURIER = "delivery.no_courier"


@dataclass(frozen=True)
class Decision:
    """`next` is None when the input changes nothing; `release` is a courier to free (guarded
    by this order id), done after the write."""

    next: DeliveryState | None = None
    effects: tuple[Effect, ...] = ()
    release: str | None = None


NOTHING = Decision()


def decide(state: DeliveryState, event: Input) -> Decision:
    match event:
        case AssignCourier(courier_id=courier_id):
            return _assign(state, courier_id)
        case DeadlinePassed():
            return _deadline(state)
        case CourierReport():
            return _report(state, event)
        case Cancel():
            return _cancel(state)


def _assign(state: DeliveryState, courier_id: str) -> Decision:
    if state.status is Status.WAITING:
        return Decision(
            DeliveryState(Status.ASSIGNED, courier_id),
            (Effect.ANNOUNCE_ASSIGNED, Effect.DISPATCH),
        )
    # Someone else assigned it first, or it ended: the claimed courier is not needed.
    return _free_if_stale(state, courier_id)


def _deadline(state: DeliveryState) -> Decision:
    if state.status is Status.WAITING:
        return Decision(DeliveryState(Status.NO_COURIER), (Effect.ANNOUNCE_NO_COURIER,))
    return NOTHING


def _report(state: DeliveryState, event: CourierReport) -> Decision:
    courier_id = event.courier_id
    if not state.serves(courier_id):
        # Late, stray or for an ended delivery: ignored, but the courier must not stay booked.
        return _free_if_stale(state, courier_id)
    match event.report:
        case Report.PICKED_UP:
            if state.status is Status.PICKED_UP:
                return NOTHING
            return Decision(
                DeliveryState(Status.PICKED_UP, courier_id), (Effect.ANNOUNCE_PICKED_UP,)
            )
        case Report.DELIVERED:
            # Delivered straight from assigned (the pick-up report was lost): it was picked up.
            skipped: tuple[Effect, ...] = (
                (Effect.ANNOUNCE_PICKED_UP,) if state.status is Status.ASSIGNED else ()
            )
            return Decision(
                DeliveryState(Status.DELIVERED, courier_id),
                (*skipped, Effect.ANNOUNCE_DELIVERED),
                release=courier_id,
            )
        case Report.FAILED:
            return Decision(
                DeliveryState(Status.FAILED, courier_id),
                (Effect.ANNOUNCE_FAILED,),
                release=courier_id,
            )


def _cancel(state: DeliveryState) -> Decision:
    if state.status is Status.WAITING:
        return Decision(DeliveryState(Status.CANCELLED))
    if state.status.on_the_road:
        return Decision(DeliveryState(Status.CANCELLED, state.courier_id), release=state.courier_id)
    # Already ended. Freeing its courier again is harmless and finishes a release that a
    # crash between the write and the release left undone.
    return Decision(release=state.courier_id)


def _free_if_stale(state: DeliveryState, courier_id: str) -> Decision:
    if state.status is Status.WAITING or state.serves(courier_id):
        return NOTHING
    return Decision(release=courier_id)


# ---- the fleet -------------------------------------------------------------------------------


class Verdict(StrEnum):
    """What to do with a busy courier, judged from the delivery of the order it holds."""

    KEEP = "keep"
    RELEASE = "release"
    RESUME_ASSIGNMENT = "resume_assignment"  # claimed, but the delivery was never written


def judge_busy_courier(delivery: DeliveryState | None, courier_id: str) -> Verdict:
    if delivery is None:
        return Verdict.RELEASE
    if delivery.status is Status.WAITING:
        return Verdict.RESUME_ASSIGNMENT
    if delivery.serves(courier_id):
        return Verdict.KEEP
    return Verdict.RELEASE
