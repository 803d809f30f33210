"""Overload protection: POST /api/orders is refused (503, nothing written) while the saga's
consumer groups are behind, and accepted again once they caught up."""

from __future__ import annotations

import asyncio
import re

from orders.menu import DEFAULT_STOCK
from saga_contracts.topology import Groups
from sagakit.admission import AdmissionControl
from sagakit.maintenance import group_stats
from sagakit.testing.waiting import eventually

from .conftest import OrdersUnderTest, StartOrders

LIMIT = 10


async def stock_of(app: OrdersUnderTest, item_id: str) -> int:
    menu = (await app.client.get("/api/menu")).json()
    return next(item["stock"] for item in menu if item["id"] == item_id)


def admission(app: OrdersUnderTest) -> AdmissionControl:
    control: AdmissionControl = app.service.app.state.admission
    return control


async def make_participant_fall_behind(app: OrdersUnderTest, entries: int) -> None:
    """The payment gateway's group exists but nobody reads it (no actors run here)."""
    stream = app.streams.payments_commands
    await app.redis.xgroup_create(stream, Groups.PAYMENTS, id="$", mkstream=True)
    for n in range(entries):
        await app.redis.xadd(stream, {"filler": str(n)})


async def let_participant_catch_up(app: OrdersUnderTest) -> None:
    stream = app.streams.payments_commands
    while read := await app.redis.xreadgroup(Groups.PAYMENTS, "gateway", {stream: ">"}, count=100):
        await app.redis.xack(stream, Groups.PAYMENTS, *(entry_id for entry_id, _ in read[0][1]))


def shed_total(metrics: str, reason: str = "backlog") -> float:
    found = re.search(
        rf'^sagakit_admission_shed_total\{{reason="{reason}",service="orders"\}} (\S+)$',
        metrics,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


async def test_a_backlog_above_the_limit_refuses_orders_and_writes_nothing(
    start_orders: StartOrders,
) -> None:
    app = await start_orders(admission_max_backlog=LIMIT)
    db = app.service.runtime.db
    shed_before = shed_total((await app.client.get("/metrics")).text)
    await make_participant_fall_behind(app, LIMIT + 1)
    await admission(app).sample_once()  # what the background sampler does every 250 ms

    refused = await app.place(**{"Idempotency-Key": "busy-1"})

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {"detail": {"code": "overloaded", "retry_after_s": 1}}
    assert await db.orders.count_documents({}) == 0
    assert await db.idempotency_keys.find_one({"_id": "busy-1"}) is None
    assert await stock_of(app, "margherita") == DEFAULT_STOCK
    assert await app.redis.xlen(app.streams.orders_events) == 0  # nothing published
    metrics = (await app.client.get("/metrics")).text
    assert shed_total(metrics) == shed_before + 1
    assert 'sagakit_admission_backlog{service="orders"} 11.0' in metrics
    assert 'sagakit_admission_shedding{service="orders"} 1.0' in metrics

    await let_participant_catch_up(app)
    await admission(app).sample_once()

    accepted = await app.place(**{"Idempotency-Key": "busy-1"})
    assert accepted.status_code == 201, accepted.text
    assert await db.orders.count_documents({}) == 1
    assert await stock_of(app, "margherita") == DEFAULT_STOCK - 2


async def test_reads_cancels_and_operator_routes_are_never_shed(start_orders: StartOrders) -> None:
    app = await start_orders(admission_max_backlog=LIMIT)
    placed = (await app.place()).json()
    order, auth = placed["id"], {"Authorization": f"Bearer {placed['tracking_token']}"}
    await make_participant_fall_behind(app, LIMIT + 1)
    await admission(app).sample_once()
    assert (await app.place()).status_code == 503

    assert (await app.client.get("/api/menu")).status_code == 200
    assert (await app.client.get(f"/api/orders/{order}", headers=auth)).status_code == 200
    assert (await app.client.post(f"/api/orders/{order}/cancel", headers=auth)).status_code == 202
    refill = await app.client.post("/api/stock/refill", json={"add": 1}, headers=app.operator)
    assert refill.status_code == 200, refill.text


async def test_the_read_side_falling_behind_does_not_refuse_orders(
    start_orders: StartOrders,
) -> None:
    """notifications only projects the order's statuses: its backlog holds no order back."""
    app = await start_orders(admission_max_backlog=LIMIT)
    stream = app.streams.orders_events
    await app.redis.xgroup_create(stream, Groups.NOTIFICATIONS, id="$", mkstream=True)
    for n in range(LIMIT + 1):
        await app.redis.xadd(stream, {"filler": str(n)})

    async def orders_stock_done() -> bool:  # the saga's own group on that stream (fillers: DLQ)
        groups = await group_stats(app.redis, stream)
        return any(g.group == Groups.ORDERS_STOCK and g.backlog == 0 for g in groups)

    await eventually(orders_stock_done, what="orders-stock through the fillers")
    await admission(app).sample_once()
    assert (await app.place()).status_code == 201


async def test_a_limit_of_zero_never_sheds(start_orders: StartOrders) -> None:
    app = await start_orders(admission_max_backlog=0)
    await make_participant_fall_behind(app, 50)
    await admission(app).sample_once()
    assert (await app.place()).status_code == 201


async def test_a_standing_queue_of_placements_refuses_one_more_and_writes_nothing(
    start_orders: StartOrders,
) -> None:
    """Past capacity the requests queue in front of the handlers, where no stream shows them:
    with the in-flight limit reached and the oldest waiting too long, one more is refused."""
    app = await start_orders(admission_max_in_flight=2, admission_max_wait_s=0.05)
    db = app.service.runtime.db
    control = admission(app)
    held = [control.admit(), control.admit()]  # two placements under way...
    assert all(isinstance(ticket, int) for ticket in held)
    metrics = (await app.client.get("/metrics")).text
    assert 'sagakit_admission_in_flight{service="orders"} 2.0' in metrics
    await asyncio.sleep(0.1)  # ...and not answered for longer than the limit allows

    refused = await app.place(**{"Idempotency-Key": "crowded-1"})

    assert refused.status_code == 503, refused.text
    assert refused.json() == {"detail": {"code": "overloaded", "retry_after_s": 1}}
    assert await db.orders.count_documents({}) == 0
    assert await db.idempotency_keys.find_one({"_id": "crowded-1"}) is None
    assert await stock_of(app, "margherita") == DEFAULT_STOCK
    metrics = (await app.client.get("/metrics")).text
    assert shed_total(metrics, "in_flight") == 1

    control.done(held[0])  # one of them was answered
    accepted = await app.place(**{"Idempotency-Key": "crowded-1"})
    assert accepted.status_code == 201, accepted.text
    assert control.in_flight == 1  # the answered request left again
    assert await db.orders.count_documents({}) == 1


async def test_a_burst_served_promptly_is_not_refused(start_orders: StartOrders) -> None:
    """Many placements at once on a healthy service: more than the in-flight limit, but no
    queue stands, so none is refused."""
    app = await start_orders(admission_max_in_flight=2)
    answers = await asyncio.gather(*(app.place() for _ in range(8)))
    assert [a.status_code for a in answers] == [201] * 8
