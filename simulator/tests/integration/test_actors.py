"""The actors against a real Redis: who answers what, on which stream, and after a crash."""

from __future__ import annotations

import time
import uuid

import httpx
from redis.asyncio import Redis

from saga_contracts.messages import (
    AuthorizePayment,
    CancelTicket,
    CapturePayment,
    DispatchCourier,
    Line,
    PaymentAuthorized,
    PaymentSettled,
    PrepareOrder,
    RefundPayment,
    VoidPayment,
)
from saga_contracts.topology import Groups
from sagakit.clock import now_ms
from sagakit.replies import read_reply
from sagakit.testing.waiting import eventually
from simulator.actors.replies import reply_id

from .conftest import World, actor_settings


def authorize(order_id: str) -> AuthorizePayment:
    return AuthorizePayment(order_id=order_id, amount_cents=2450)


def prepare(order_id: str) -> PrepareOrder:
    return PrepareOrder(order_id=order_id, lines=[Line(item_id="margherita", name="M", quantity=1)])


def dispatch(order_id: str) -> DispatchCourier:
    return DispatchCourier(order_id=order_id, courier_id="courier-3", address="1 Main St")


async def test_payment_gateway_answers_its_commands_on_payments_events(world: World) -> None:
    await world.start(actor_settings())
    s = world.streams
    _, command = await world.send(s.payments_commands, authorize("o1"))
    await world.send(s.payments_commands, VoidPayment(order_id="o2"))
    await world.send(s.payments_commands, RefundPayment(order_id="o3", amount_cents=5))
    await world.send(s.payments_commands, CapturePayment(order_id="o4", amount_cents=5))
    await eventually(world.has_replies(s.payments_events, 4), what="four payment replies")

    replies = {e.key: e for e in await world.replies(s.payments_events)}
    authorized = replies["o1"]
    assert authorized.type == "payment.authorized"
    assert PaymentAuthorized.from_envelope(authorized).payment_id.startswith("pay_")
    assert (authorized.causation_id, authorized.version) == (command.id, command.version)
    assert authorized.id == reply_id(command.id, "payment.authorized")
    actions = {key: PaymentSettled.from_envelope(replies[key]).action for key in ("o2", "o3", "o4")}
    assert actions == {"o2": "void", "o3": "refund", "o4": "capture"}
    for other in (s.kitchen_events, s.couriers_events, s.orders_events, s.delivery_events):
        assert await world.replies(other) == []


async def test_kitchen_accepts_then_reports_ready_on_kitchen_events(world: World) -> None:
    await world.start(actor_settings())
    s = world.streams
    await world.send(s.kitchen_commands, prepare("o1"))
    await eventually(world.has_replies(s.kitchen_events, 2), what="kitchen replies")
    assert await world.reply_types(s.kitchen_events) == ["kitchen.accepted", "kitchen.ready"]
    assert await world.replies(s.payments_events) == []


async def test_couriers_pick_up_then_deliver_on_couriers_events(world: World) -> None:
    await world.start(actor_settings())
    s = world.streams
    await world.send(s.couriers_commands, dispatch("o1"))
    await eventually(world.has_replies(s.couriers_events, 2), what="courier replies")
    replies = await world.replies(s.couriers_events)
    assert [e.type for e in replies] == ["courier.picked_up", "courier.delivered"]
    assert {e.payload["courier_id"] for e in replies} == {"courier-3"}
    assert await world.replies(s.delivery_events) == []


async def test_failure_rates_of_one_produce_the_failure_replies(world: World) -> None:
    await world.start(
        actor_settings(payment_decline_rate=1.0, kitchen_reject_rate=1.0, courier_fail_rate=1.0)
    )
    s = world.streams
    await world.send(s.payments_commands, authorize("o1"))
    entry, _ = await world.send(s.kitchen_commands, prepare("o1"))
    await world.send(s.couriers_commands, dispatch("o1"))
    await eventually(world.has_replies(s.couriers_events, 2), what="courier replies")
    await eventually(world.has_replies(s.payments_events, 1), what="payment reply")
    await eventually(world.handled(s.kitchen_commands, Groups.KITCHEN, entry), what="handled")
    assert await world.reply_types(s.payments_events) == ["payment.declined"]
    assert await world.reply_types(s.kitchen_events) == ["kitchen.rejected"]
    assert await world.reply_types(s.couriers_events) == ["courier.picked_up", "courier.failed"]


async def test_silence_rates_of_one_produce_no_reply(world: World) -> None:
    await world.start(
        actor_settings(
            payment_silence_rate=1.0,
            kitchen_silence_rate=1.0,
            payment_delay="fixed:50",
            kitchen_cook_delay="fixed:50",
            actors_zero_delay=False,
        )
    )
    s = world.streams
    paid, _ = await world.send(s.payments_commands, authorize("o1"))
    cooked, _ = await world.send(s.kitchen_commands, prepare("o1"))
    await eventually(world.handled(s.payments_commands, Groups.PAYMENTS, paid), what="handled")
    await eventually(world.handled(s.kitchen_commands, Groups.KITCHEN, cooked), what="handled")
    # accepted is the only kitchen answer; nothing else is waiting to be sent
    await eventually(world.has_replies(s.kitchen_events, 1), what="kitchen accepted")
    schedule = world.schedule()
    assert await schedule.scheduled() == 0
    assert await schedule.fire_due(now_ms() + 3_600_000) == 0
    assert await world.replies(s.payments_events) == []
    assert await world.reply_types(s.kitchen_events) == ["kitchen.accepted"]


async def test_a_ticket_cancelled_before_it_is_ready_never_becomes_ready(world: World) -> None:
    await world.start(
        actor_settings(
            actors_zero_delay=False,
            payment_delay="0",
            kitchen_accept_delay="0",
            kitchen_cook_delay="fixed:600000",  # cooking takes 10 minutes
        )
    )
    s = world.streams
    _, first_prepare = await world.send(s.kitchen_commands, prepare("cancelled"))
    await world.send(s.kitchen_commands, prepare("kept"))
    await eventually(world.has_replies(s.kitchen_events, 2), what="both accepted")
    cancel, _ = await world.send(s.kitchen_commands, CancelTicket(order_id="cancelled"))
    await eventually(world.handled(s.kitchen_commands, Groups.KITCHEN, cancel), what="cancel")
    # the same prepare delivered again after the cancel cooks nothing either
    again, _ = await world.send(s.kitchen_commands, prepare("cancelled"), envelope=first_prepare)
    await eventually(world.handled(s.kitchen_commands, Groups.KITCHEN, again), what="redelivery")

    fired = await world.schedule().fire_due(now_ms() + 3_600_000)  # an hour later

    assert fired == 1
    assert await world.reply_types(s.kitchen_events, "kept") == [
        "kitchen.accepted",
        "kitchen.ready",
    ]
    assert await world.reply_types(s.kitchen_events, "cancelled") == ["kitchen.accepted"]


async def test_a_redelivered_command_gets_replies_with_the_same_ids(world: World) -> None:
    await world.start(actor_settings())
    s = world.streams
    _, command = await world.send(s.couriers_commands, dispatch("o1"))
    await eventually(world.has_replies(s.couriers_events, 2), what="first replies")
    await world.send(s.couriers_commands, dispatch("o1"), envelope=command)
    await eventually(world.has_replies(s.couriers_events, 4), what="replies to the redelivery")
    first, second = (
        (await world.replies(s.couriers_events))[:2],
        (await world.replies(s.couriers_events))[2:],
    )
    assert [e.id for e in first] == [e.id for e in second]
    assert [e.payload for e in first] == [e.payload for e in second]
    assert len({e.id for e in first}) == 2


async def test_a_command_redelivered_while_its_answer_waits_is_answered_once(
    world: World,
) -> None:
    await world.start(actor_settings(actors_zero_delay=False, payment_delay="fixed:400"))
    s = world.streams
    _, command = await world.send(s.payments_commands, authorize("o1"))
    again, _ = await world.send(s.payments_commands, authorize("o1"), envelope=command)
    await eventually(world.handled(s.payments_commands, Groups.PAYMENTS, again), what="handled")
    await eventually(world.has_replies(s.payments_events, 1), what="the delayed answer")
    assert await world.schedule().fire_due(now_ms() + 3_600_000) == 0
    replies = await world.replies(s.payments_events)
    assert [e.id for e in replies] == [reply_id(command.id, "payment.authorized")]


async def test_a_command_left_pending_by_a_crash_is_answered_after_restart(
    world: World, redis: Redis
) -> None:
    s = world.streams
    _, command = await world.send(s.payments_commands, authorize("o1"))
    # the actor read the command and died before answering: it is pending for "sim-1"
    await redis.xgroup_create(s.payments_commands, Groups.PAYMENTS, id="0", mkstream=True)
    taken = await redis.xreadgroup(Groups.PAYMENTS, "sim-1", {s.payments_commands: ">"})
    assert len(read_reply(taken)[0][1]) == 1

    await world.start(actor_settings(), consumer="sim-1")

    await eventually(world.has_replies(s.payments_events, 1), what="the answer after restart")
    (reply,) = await world.replies(s.payments_events)
    assert reply.causation_id == command.id


async def test_actors_stopped_mid_delay_answer_after_restart(world: World) -> None:
    settings = actor_settings(
        actors_zero_delay=False,
        payment_delay="fixed:1000",
        courier_pickup_delay="fixed:1000",
        courier_travel_delay="fixed:100",
    )
    service = await world.start(settings, consumer="sim-1")
    s = world.streams
    paid, _ = await world.send(s.payments_commands, authorize("o1"))
    sent, _ = await world.send(s.couriers_commands, dispatch("o1"))
    await eventually(world.handled(s.payments_commands, Groups.PAYMENTS, paid), what="handled")
    await eventually(world.handled(s.couriers_commands, Groups.COURIERS, sent), what="handled")
    await service.stop()
    assert await world.replies(s.payments_events) == []
    assert await world.replies(s.couriers_events) == []

    await world.start(settings, consumer="sim-1")

    await eventually(world.has_replies(s.payments_events, 1), what="payment answer")
    await eventually(world.has_replies(s.couriers_events, 2), what="courier answers")
    assert await world.reply_types(s.couriers_events) == ["courier.picked_up", "courier.delivered"]


async def test_benchmark_mode_moves_hundreds_of_orders_through_every_actor(
    world: World,
) -> None:
    # a burst of 900 commands: give handlers a production-like timeout, not the test-speed one
    await world.start(actor_settings(), handler_timeout_s=5.0, claim_idle_ms=20_000)
    s = world.streams
    orders = [f"order-{n}-{uuid.uuid4().hex[:6]}" for n in range(300)]
    started = time.perf_counter()
    await world.publisher.publish_many(
        [(s.payments_commands, authorize(o).envelope(key=o, version=2)) for o in orders]
        + [(s.kitchen_commands, prepare(o).envelope(key=o, version=3)) for o in orders]
        + [(s.couriers_commands, dispatch(o).envelope(key=o, version=5)) for o in orders]
    )
    await eventually(world.has_replies(s.payments_events, 300), timeout_s=20, what="payments")
    await eventually(world.has_replies(s.kitchen_events, 600), timeout_s=20, what="kitchen")
    await eventually(world.has_replies(s.couriers_events, 600), timeout_s=20, what="couriers")
    elapsed = time.perf_counter() - started
    print(f"benchmark mode: {len(orders)} orders through three actors in {elapsed:.2f} s")
    for stream, per_order in (
        (s.payments_events, 1),
        (s.kitchen_events, 2),
        (s.couriers_events, 2),
    ):
        replies = await world.replies(stream)
        assert len(replies) == per_order * len(orders)
        assert {e.key for e in replies} == set(orders)


async def test_health_and_metrics_routes_without_mongodb(world: World) -> None:
    service = await world.start(actor_settings())
    await world.send(world.streams.payments_commands, authorize("o1"))
    await eventually(world.has_replies(world.streams.payments_events, 1), what="a reply")
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/healthz")).status_code == 200

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, what="ready without MongoDB")
        components = (await client.get("/readyz")).json()["components"]
        assert {"consumer:payments", "consumer:kitchen", "consumer:couriers"} <= set(components)
        assert "mongo" not in components
        metrics = (await client.get("/metrics")).text
        assert 'simulator_decisions_total{command="payment.authorize",outcome="authorized"}' in (
            metrics
        )
