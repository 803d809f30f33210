"""What each actor answers to a command, and when: pure decisions, no I/O.

A plan is the list of facts an actor will state about one command, each `after_ms` after the
previous one (the first after the command). Every choice comes from `Decisions`, so the same
order always gets the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from saga_contracts.messages import (
    AuthorizePayment,
    CourierDelivered,
    CourierFailed,
    CourierPickedUp,
    DispatchCourier,
    KitchenAccepted,
    KitchenReady,
    KitchenRejected,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentSettled,
    PrepareOrder,
)
from sagakit.envelope import Message
from simulator.actors.settings import ActorSettings
from simulator.decisions import Decisions


@dataclass(frozen=True, slots=True)
class Answer:
    after_ms: int
    message: Message


@dataclass(frozen=True, slots=True)
class Plan:
    outcome: str  # a metric label: what the actor decided
    answers: list[Answer] = field(default_factory=list)


class PaymentGateway:
    def __init__(self, decisions: Decisions, settings: ActorSettings) -> None:
        self._decisions = decisions
        self._settings = settings
        self._delay = settings.delays.payment

    def authorize(self, command: AuthorizePayment) -> Plan:
        order = command.order_id
        if self._decisions.happens(self._settings.payment_silence_rate, order, "payment.silence"):
            return Plan("silent")
        after_ms = self._decisions.delay_ms(self._delay, order, "payment")
        if self._decisions.happens(self._settings.payment_decline_rate, order, "payment.decline"):
            declined = PaymentDeclined(order_id=order, detail="declined by the simulated gateway")
            return Plan("declined", [Answer(after_ms, declined)])
        payment_id = f"pay_{self._decisions.token(order, 'payment')}"
        return Plan(
            "authorized",
            [Answer(after_ms, PaymentAuthorized(order_id=order, payment_id=payment_id))],
        )

    def settle(self, order_id: str, action: str) -> Plan:
        """Voids, refunds and captures always succeed, at once."""
        return Plan(action, [Answer(0, PaymentSettled(order_id=order_id, action=action))])


class Kitchen:
    def __init__(self, decisions: Decisions, settings: ActorSettings) -> None:
        self._decisions = decisions
        self._settings = settings
        delays = settings.delays
        self._accept_delay = delays.kitchen_accept
        self._cook_delay = delays.kitchen_cook

    def prepare(self, command: PrepareOrder) -> Plan:
        order = command.order_id
        accept_ms = self._decisions.delay_ms(self._accept_delay, order, "kitchen.accept")
        if self._decisions.happens(self._settings.kitchen_reject_rate, order, "kitchen.reject"):
            rejected = KitchenRejected(order_id=order, detail="the simulated kitchen is too busy")
            return Plan("rejected", [Answer(accept_ms, rejected)])
        accepted = Answer(accept_ms, KitchenAccepted(order_id=order))
        if self._decisions.happens(self._settings.kitchen_silence_rate, order, "kitchen.silence"):
            return Plan("never_ready", [accepted])
        cook_ms = self._decisions.delay_ms(self._cook_delay, order, "kitchen.cook")
        return Plan("ready", [accepted, Answer(cook_ms, KitchenReady(order_id=order))])


class Couriers:
    def __init__(self, decisions: Decisions, settings: ActorSettings) -> None:
        self._decisions = decisions
        self._settings = settings
        delays = settings.delays
        self._pickup_delay = delays.courier_pickup
        self._travel_delay = delays.courier_travel

    def dispatch(self, command: DispatchCourier) -> Plan:
        order, courier = command.order_id, command.courier_id
        pickup_ms = self._decisions.delay_ms(self._pickup_delay, order, "courier.pickup")
        travel_ms = self._decisions.delay_ms(self._travel_delay, order, "courier.travel")
        picked_up = Answer(pickup_ms, CourierPickedUp(order_id=order, courier_id=courier))
        if self._decisions.happens(self._settings.courier_fail_rate, order, "courier.fail"):
            failed = CourierFailed(
                order_id=order, courier_id=courier, detail="the simulated courier could not deliver"
            )
            return Plan("failed", [picked_up, Answer(travel_ms, failed)])
        delivered = CourierDelivered(order_id=order, courier_id=courier)
        return Plan("delivered", [picked_up, Answer(travel_ms, delivered)])
