"""The orchestrated saga through the streams: the test plays payment, kitchen and delivery."""

from __future__ import annotations

from typing import Any

import pytest

from orders.menu import DEFAULT_STOCK
from saga_contracts.messages import (
    CourierAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    KitchenAccepted,
    KitchenReady,
    KitchenRejected,
    NoCourier,
    PaymentAuthorized,
    PaymentDeclined,
)
from sagakit.envelope import Envelope, Message
from sagakit.replies import entries
from sagakit.testing.waiting import eventually

from .conftest import OrdersUnderTest, StartOrders


async def place(app: OrdersUnderTest, quantity: int = 2) -> dict[str, Any]:
    response = await app.place([{"item_id": "carbonara", "quantity": quantity}])
    assert response.status_code == 201, response.text
    return dict(response.json())


async def reply(app: OrdersUnderTest, stream: str, message: Message, order_id: str) -> Envelope:
    envelope = message.envelope(key=order_id, version=0)
    await app.publisher.publish(stream, envelope)
    return envelope


async def order_doc(app: OrdersUnderTest, order_id: str) -> dict[str, Any]:
    doc = await app.service.runtime.db.orders.find_one({"_id": order_id})
    assert doc is not None
    return doc


async def reach(app: OrdersUnderTest, order_id: str, status: str) -> dict[str, Any]:
    async def there() -> bool:
        return (await order_doc(app, order_id))["status"] == status

    await eventually(there, what=f"order {order_id} to be {status}")
    return await order_doc(app, order_id)


async def commands(app: OrdersUnderTest, stream: str, order_id: str) -> list[str]:
    found = entries(await app.redis.xrange(stream))
    return [f["type"] for _, f in found if f and f.get("key") == order_id]


async def sent(app: OrdersUnderTest, stream: str, order_id: str, kind: str) -> bool:
    return kind in await commands(app, stream, order_id)


async def statuses(app: OrdersUnderTest, order_id: str) -> list[tuple[int, str, str | None]]:
    found = entries(await app.redis.xrange(app.streams.orders_events))
    events = [Envelope.from_fields(f) for _, f in found if f and f.get("key") == order_id]
    return [
        (e.version, e.payload["status"], e.payload.get("reason"))
        for e in events
        if e.type == "order.status_changed"
    ]


async def item(app: OrdersUnderTest, item_id: str = "carbonara") -> dict[str, Any]:
    doc = await app.service.runtime.db.menu_items.find_one({"_id": item_id})
    assert doc is not None
    return doc


async def stock_settled(app: OrdersUnderTest, order_id: str, expected_stock: int) -> None:
    async def settled() -> bool:
        doc = await item(app)
        return order_id not in (doc.get("reservations") or {}) and doc["stock"] == expected_stock

    await eventually(settled, what="the reservation to be settled")


async def test_an_order_goes_all_the_way_to_delivered(orders_app: OrdersUnderTest) -> None:
    app, s = orders_app, orders_app.streams
    order = await place(app)
    oid = order["id"]
    await eventually(
        lambda: sent(app, s.payments_commands, oid, "payment.authorize"), what="authorize"
    )
    assert await commands(app, s.payments_commands, oid) == ["payment.authorize"]

    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p1"), oid)
    await reach(app, oid, "paid")
    await eventually(
        lambda: sent(app, s.kitchen_commands, oid, "kitchen.prepare"), what="kitchen ticket"
    )
    await reply(app, s.kitchen_events, KitchenAccepted(order_id=oid), oid)
    await reach(app, oid, "preparing")
    await reply(app, s.kitchen_events, KitchenReady(order_id=oid), oid)
    await reach(app, oid, "ready")
    assert await commands(app, s.delivery_commands, oid) == ["delivery.request"]
    await reply(app, s.delivery_events, CourierAssigned(order_id=oid, courier_id="c1"), oid)
    await reach(app, oid, "courier_assigned")
    await reply(app, s.delivery_events, DeliveryPickedUp(order_id=oid, courier_id="c1"), oid)
    await reach(app, oid, "picked_up")
    await reply(app, s.delivery_events, DeliveryDelivered(order_id=oid, courier_id="c1"), oid)
    done = await reach(app, oid, "delivered")

    assert done["version"] == 7 and "deadline_at" not in done
    await eventually(lambda: sent(app, s.payments_commands, oid, "payment.capture"), what="capture")
    assert await commands(app, s.payments_commands, oid) == ["payment.authorize", "payment.capture"]
    assert [v for v, _, _ in await statuses(app, oid)] == [1, 2, 3, 4, 5, 6, 7]
    await stock_settled(app, oid, DEFAULT_STOCK - 2)  # sold: the stock stays down
    metrics = (await app.client.get("/metrics")).text
    assert 'orders_saga_outcomes_total{reason="",status="delivered"}' in metrics
    assert 'orders_saga_duration_seconds_count{status="delivered"}' in metrics


@pytest.mark.parametrize(
    ("steps", "reason", "compensation", "stock_back"),
    [
        ([("payments", PaymentDeclined)], "payment_declined", [], True),
        (
            [("payments", PaymentAuthorized), ("kitchen", KitchenRejected)],
            "kitchen_rejected",
            ["payment.void"],
            True,
        ),
        (
            [
                ("payments", PaymentAuthorized),
                ("kitchen", KitchenAccepted),
                ("kitchen", KitchenReady),
                ("delivery", NoCourier),
            ],
            "no_courier",
            ["payment.refund"],
            False,
        ),
        (
            [
                ("payments", PaymentAuthorized),
                ("kitchen", KitchenAccepted),
                ("kitchen", KitchenReady),
                ("delivery", CourierAssigned),
                ("delivery", DeliveryPickedUp),
                ("delivery", DeliveryFailed),
            ],
            "delivery_failed",
            ["payment.refund"],
            False,
        ),
    ],
    ids=["payment_declined", "kitchen_rejected", "no_courier", "delivery_failed"],
)
async def test_each_failure_cancels_with_its_reason_and_compensates(
    orders_app: OrdersUnderTest,
    steps: list[tuple[str, type[Message]]],
    reason: str,
    compensation: list[str],
    stock_back: bool,
) -> None:
    app, s = orders_app, orders_app.streams
    oid = (await place(app))["id"]
    stream_of = {
        "payments": s.payments_events,
        "kitchen": s.kitchen_events,
        "delivery": s.delivery_events,
    }
    for participant, model in steps:
        fields: dict[str, Any] = {"order_id": oid}
        if "payment_id" in model.model_fields:
            fields["payment_id"] = "p1"
        if "courier_id" in model.model_fields:
            fields["courier_id"] = "c1"
        await reply(app, stream_of[participant], model(**fields), oid)
    done = await reach(app, oid, "cancelled")
    assert done["reason"] == reason
    history = await statuses(app, oid)
    assert history[-1] == (done["version"], "cancelled", reason)
    assert [v for v, _, _ in history] == list(range(1, done["version"] + 1))

    async def compensated() -> bool:
        sent = await commands(app, s.payments_commands, oid)
        return all(kind in sent for kind in compensation)

    await eventually(compensated, what=f"compensation {compensation}")
    await stock_settled(app, oid, DEFAULT_STOCK if stock_back else DEFAULT_STOCK - 2)


async def test_a_step_that_times_out_cancels_and_a_late_authorisation_is_voided(
    start_orders: StartOrders,
) -> None:
    app = await start_orders(payment_timeout_s=0.3)
    s = app.streams
    oid = (await place(app))["id"]
    done = await reach(app, oid, "cancelled")
    assert done["reason"] == "timeout"
    await stock_settled(app, oid, DEFAULT_STOCK)
    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="late"), oid)

    async def voided_twice() -> bool:
        return (await commands(app, s.payments_commands, oid)).count("payment.void") == 2

    await eventually(voided_twice, what="the late authorisation to be voided")
    assert (await order_doc(app, oid))["version"] == 2


async def test_kitchen_ready_timeout_keeps_the_stock_sold(start_orders: StartOrders) -> None:
    app = await start_orders(kitchen_ready_timeout_s=0.3)
    s = app.streams
    oid = (await place(app))["id"]
    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p1"), oid)
    await reach(app, oid, "paid")
    await reply(app, s.kitchen_events, KitchenAccepted(order_id=oid), oid)
    done = await reach(app, oid, "cancelled")
    assert done["reason"] == "timeout"
    kitchen = await commands(app, s.kitchen_commands, oid)
    assert kitchen == ["kitchen.prepare", "kitchen.cancel"]
    await stock_settled(app, oid, DEFAULT_STOCK - 2)


async def test_customer_cancel_after_payment_voids_and_releases(
    orders_app: OrdersUnderTest,
) -> None:
    app, s = orders_app, orders_app.streams
    order = await place(app)
    oid = order["id"]
    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p1"), oid)
    await reach(app, oid, "paid")
    response = await app.client.post(
        f"/api/orders/{oid}/cancel", headers={"Authorization": f"Bearer {order['tracking_token']}"}
    )
    assert response.status_code == 202
    assert response.json()["reason"] == "customer_cancelled"
    # the kitchen's late acceptance changes nothing any more
    await reply(app, s.kitchen_events, KitchenAccepted(order_id=oid), oid)
    await stock_settled(app, oid, DEFAULT_STOCK)
    assert "payment.void" in await commands(app, s.payments_commands, oid)
    assert "kitchen.cancel" in await commands(app, s.kitchen_commands, oid)
    assert (await order_doc(app, oid))["status"] == "cancelled"


async def test_duplicate_replies_change_nothing(orders_app: OrdersUnderTest) -> None:
    app, s = orders_app, orders_app.streams
    oid = (await place(app))["id"]
    authorized = PaymentAuthorized(order_id=oid, payment_id="p1").envelope(key=oid, version=0)
    for _ in range(3):  # the same message redelivered
        await app.publisher.publish(s.payments_events, authorized)
    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p2"), oid)
    await reach(app, oid, "paid")
    await reply(app, s.kitchen_events, KitchenAccepted(order_id=oid), oid)
    await reach(app, oid, "preparing")

    async def all_consumed() -> bool:
        last = entries(await app.redis.xrevrange(s.payments_events, count=1))[0][0]
        info = await app.redis.xinfo_groups(s.payments_events)
        return all(g["pending"] == 0 and g["last-delivered-id"] == last for g in info)

    await eventually(all_consumed, what="every reply handled")
    assert await commands(app, s.kitchen_commands, oid) == ["kitchen.prepare"]
    assert [v for v, _, _ in await statuses(app, oid)] == [1, 2, 3]


async def test_a_reply_that_does_not_fit_its_model_is_dead_lettered(
    orders_app: OrdersUnderTest,
) -> None:
    app, s = orders_app, orders_app.streams
    oid = (await place(app))["id"]
    bad = Envelope(
        id="bad-1",
        type="payment.authorized",
        key=oid,
        version=0,
        occurred_at=PaymentAuthorized(order_id=oid, payment_id="x")
        .envelope(key=oid, version=0)
        .occurred_at,
        payload={"order_id": oid},
    )
    await app.publisher.publish(s.payments_events, bad)
    await app.redis.xadd(s.payments_events, {"garbage": "yes"})
    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p1"), oid)
    await reach(app, oid, "paid")

    async def dead_lettered() -> bool:
        return int(await app.redis.xlen(f"dlq.{s.payments_events}")) == 2

    await eventually(dead_lettered, what="both poison replies in the dead-letter stream")
