from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from saga_contracts.messages import (
    AuthorizePayment,
    CourierDelivered,
    CourierFailed,
    CourierPickedUp,
    DispatchCourier,
    KitchenAccepted,
    KitchenReady,
    KitchenRejected,
    Line,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentSettled,
    PrepareOrder,
)
from simulator.actors.behaviour import Couriers, Kitchen, PaymentGateway, Plan
from simulator.actors.settings import ActorSettings
from simulator.decisions import Decisions

order_ids = st.text(min_size=1, max_size=36)

CALM: dict[str, Any] = {
    "actors_zero_delay": False,
    "payment_decline_rate": 0.0,
    "payment_silence_rate": 0.0,
    "kitchen_reject_rate": 0.0,
    "kitchen_silence_rate": 0.0,
    "courier_fail_rate": 0.0,
    "payment_delay": "fixed:100",
    "kitchen_accept_delay": "fixed:200",
    "kitchen_cook_delay": "fixed:300",
    "courier_pickup_delay": "fixed:400",
    "courier_travel_delay": "fixed:500",
}


def settings(**overrides: Any) -> ActorSettings:
    return ActorSettings(**{**CALM, **overrides})


def shape(plan: Plan) -> list[tuple[int, type]]:
    return [(answer.after_ms, type(answer.message)) for answer in plan.answers]


def authorize(order_id: str = "o1") -> AuthorizePayment:
    return AuthorizePayment(order_id=order_id, amount_cents=1250)


def prepare(order_id: str = "o1") -> PrepareOrder:
    return PrepareOrder(order_id=order_id, lines=[Line(item_id="i", name="Pizza", quantity=2)])


def dispatch(order_id: str = "o1") -> DispatchCourier:
    return DispatchCourier(order_id=order_id, courier_id="c7", address="1 Main St")


def test_payment_authorized_after_the_payment_delay() -> None:
    plan = PaymentGateway(Decisions("s"), settings()).authorize(authorize())
    assert plan.outcome == "authorized"
    assert shape(plan) == [(100, PaymentAuthorized)]
    message = plan.answers[0].message
    assert isinstance(message, PaymentAuthorized)
    assert message.order_id == "o1"
    assert message.payment_id.startswith("pay_")


def test_payment_declined_or_silent_at_rate_one() -> None:
    declined = PaymentGateway(Decisions("s"), settings(payment_decline_rate=1.0))
    assert shape(declined.authorize(authorize())) == [(100, PaymentDeclined)]
    silent = PaymentGateway(Decisions("s"), settings(payment_silence_rate=1.0))
    assert silent.authorize(authorize()) == Plan("silent", [])


def test_settlements_are_immediate_and_name_the_action() -> None:
    plan = PaymentGateway(Decisions("s"), settings()).settle("o1", "refund")
    assert shape(plan) == [(0, PaymentSettled)]
    assert plan.answers[0].message == PaymentSettled(order_id="o1", action="refund")


def test_kitchen_accepts_then_is_ready_after_cooking() -> None:
    plan = Kitchen(Decisions("s"), settings()).prepare(prepare())
    assert shape(plan) == [(200, KitchenAccepted), (300, KitchenReady)]


def test_kitchen_rejects_or_never_gets_ready_at_rate_one() -> None:
    rejecting = Kitchen(Decisions("s"), settings(kitchen_reject_rate=1.0))
    assert shape(rejecting.prepare(prepare())) == [(200, KitchenRejected)]
    stuck = Kitchen(Decisions("s"), settings(kitchen_silence_rate=1.0))
    assert shape(stuck.prepare(prepare())) == [(200, KitchenAccepted)]


def test_courier_picks_up_then_delivers_or_fails() -> None:
    plan = Couriers(Decisions("s"), settings()).dispatch(dispatch())
    assert shape(plan) == [(400, CourierPickedUp), (500, CourierDelivered)]
    assert all(getattr(a.message, "courier_id", None) == "c7" for a in plan.answers)
    failing = Couriers(Decisions("s"), settings(courier_fail_rate=1.0))
    assert shape(failing.dispatch(dispatch())) == [(400, CourierPickedUp), (500, CourierFailed)]


def test_zero_delay_answers_everything_at_once() -> None:
    fast = settings(actors_zero_delay=True)
    plans = [
        PaymentGateway(Decisions("s"), fast).authorize(authorize()),
        Kitchen(Decisions("s"), fast).prepare(prepare()),
        Couriers(Decisions("s"), fast).dispatch(dispatch()),
    ]
    assert all(answer.after_ms == 0 for plan in plans for answer in plan.answers)


mixed = {
    "payment_decline_rate": 0.3,
    "payment_silence_rate": 0.2,
    "kitchen_reject_rate": 0.3,
    "kitchen_silence_rate": 0.3,
    "courier_fail_rate": 0.3,
    "payment_delay": "exp:500",
    "kitchen_accept_delay": "uniform:0:900",
    "kitchen_cook_delay": "normal:900:300",
    "courier_pickup_delay": "exp:200",
    "courier_travel_delay": "uniform:100:5000",
}


@given(order_id=order_ids, seed=st.text(max_size=10))
def test_the_same_order_always_gets_the_same_plan(order_id: str, seed: str) -> None:
    config = settings(**mixed)

    def plans() -> list[Plan]:
        return [
            PaymentGateway(Decisions(seed), config).authorize(authorize(order_id)),
            Kitchen(Decisions(seed), config).prepare(prepare(order_id)),
            Couriers(Decisions(seed), config).dispatch(dispatch(order_id)),
        ]

    assert plans() == plans()


def test_mixed_rates_produce_every_outcome_in_roughly_the_right_shares() -> None:
    config = settings(**mixed)
    gateway = PaymentGateway(Decisions("fixed"), config)
    outcomes = [gateway.authorize(authorize(f"order-{n}")).outcome for n in range(5_000)]
    # silence first (0.2), then decline among the rest (0.3 * 0.8 = 0.24)
    assert abs(outcomes.count("silent") / 5_000 - 0.2) < 0.03
    assert abs(outcomes.count("declined") / 5_000 - 0.24) < 0.03
