"""The multi-replica run's checks (tests/stream_audit.py, tests/courier_watch.py) catch what
they are there to catch: each is shown a correct history, which passes, and a broken one,
which fails. Without this the system test could pass by checking nothing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from saga_contracts.topology import Streams
from sagakit.dead_letters import DLQ_PREFIX

from .courier_watch import CourierWatch
from .stream_audit import (
    check_consumers,
    check_courier_dispatches,
    check_no_dead_letters,
    check_nothing_pending_past,
    check_payments,
    check_stock_documents,
)

Db = AsyncDatabase[dict[str, Any]]


@pytest.fixture
def streams(namespace: str) -> Streams:
    return Streams(f"{namespace}:")


async def publish(
    redis: Redis, stream: str, order_id: str, kind: str, message_id: str, **payload: str
) -> None:
    payload["order_id"] = order_id
    await redis.xadd(
        stream,
        {"id": message_id, "type": kind, "key": order_id, "payload": orjson.dumps(payload)},
    )


async def store_order(db: Db, order_id: str, *statuses: str) -> None:
    history = {f"v{n:06d}": {"status": s} for n, s in enumerate(statuses, start=1)}
    await db.orders.insert_one({"_id": order_id, "status": statuses[-1], "history": history})


async def delivered_order(redis: Redis, db: Db, streams: Streams, order_id: str) -> None:
    """A correct delivered order: one authorisation (published twice), one capture."""
    await store_order(db, order_id, "placed", "paid", "delivered")
    await publish(redis, streams.payments_commands, order_id, "payment.authorize", f"{order_id}a")
    for _ in range(2):  # republished: the same id
        await publish(
            redis, streams.payments_events, order_id, "payment.authorized", f"{order_id}b"
        )
    await publish(redis, streams.payments_commands, order_id, "payment.capture", f"{order_id}c")


async def test_payments_of_a_correct_history_pass(
    redis: Redis, mongo_db: Db, streams: Streams
) -> None:
    await delivered_order(redis, mongo_db, streams, "o1")
    await store_order(mongo_db, "o2", "placed", "cancelled")  # declined: no authorisation
    await publish(redis, streams.payments_commands, "o2", "payment.authorize", "o2a")
    counted = await check_payments(redis, mongo_db, streams)
    assert counted == {
        "payment.authorize": 2,
        "payment.authorized": 1,
        "payment.capture": 1,
        "payment.refund": 0,
    }


@pytest.mark.parametrize(
    ("stream", "kind", "problem"),
    [
        ("payments_events", "payment.authorized", "2 payment.authorized"),
        ("payments_commands", "payment.authorize", "2 payment.authorize"),
        ("payments_commands", "payment.refund", "2 captures/refunds"),
        ("payments_commands", "payment.capture", "2 captures/refunds"),
    ],
)
async def test_a_second_payment_effect_for_an_order_fails(
    redis: Redis, mongo_db: Db, streams: Streams, stream: str, kind: str, problem: str
) -> None:
    await delivered_order(redis, mongo_db, streams, "o1")
    await publish(redis, getattr(streams, stream), "o1", kind, "another-id")
    with pytest.raises(AssertionError, match=problem):
        await check_payments(redis, mongo_db, streams)


async def test_a_paid_order_without_authorisation_or_a_delivered_one_without_capture_fails(
    redis: Redis, mongo_db: Db, streams: Streams
) -> None:
    await store_order(mongo_db, "o1", "placed", "paid", "delivered")
    await publish(redis, streams.payments_commands, "o1", "payment.authorize", "o1a")
    with pytest.raises(AssertionError, match=r"0 payment.authorized.*0 captures"):
        await check_payments(redis, mongo_db, streams)


async def dispatch(redis: Redis, streams: Streams, order_id: str, sent: str) -> None:
    """`sent`: '<message id>/<courier id>'."""
    message_id, courier = sent.split("/")
    await publish(
        redis,
        streams.couriers_commands,
        order_id,
        "courier.dispatch",
        message_id,
        courier_id=courier,
    )


async def test_one_dispatch_per_delivery_passes_even_when_republished(
    redis: Redis, mongo_db: Db, streams: Streams
) -> None:
    await mongo_db.deliveries.insert_many(
        [{"_id": "o1", "courier_id": "c1"}, {"_id": "o2", "status": "no_courier"}]
    )
    await dispatch(redis, streams, "o1", "m1/c1")
    await dispatch(redis, streams, "o1", "m1/c1")
    counted = await check_courier_dispatches(redis, mongo_db, streams)
    assert counted == {"courier.dispatch": 1, "deliveries": 2}


@pytest.mark.parametrize(
    ("dispatches", "problem"),
    [
        (["m1/c1", "m2/c2"], "dispatched"),  # a second courier
        (["m1/c1", "m2/c1"], "dispatched"),  # the same courier, decided twice
        (["m1/c2"], "delivery records c1"),  # not the courier the delivery records
        ([], "never dispatched"),
    ],
)
async def test_a_delivery_with_other_than_one_dispatch_of_its_courier_fails(
    redis: Redis, mongo_db: Db, streams: Streams, dispatches: list[str], problem: str
) -> None:
    await mongo_db.deliveries.insert_one({"_id": "o1", "courier_id": "c1"})
    for message_id in dispatches:
        await dispatch(redis, streams, "o1", message_id)
    with pytest.raises(AssertionError, match=problem):
        await check_courier_dispatches(redis, mongo_db, streams)


@pytest.mark.parametrize(
    "item",
    [
        {"_id": "pizza", "stock": 3, "reservations": {"o1": {"q": 1, "t": 0}}},
        {"_id": "pizza", "stock": -1, "reservations": {}},
    ],
)
async def test_a_reservation_left_or_negative_stock_fails(
    mongo_db: Db, item: dict[str, Any]
) -> None:
    await mongo_db.menu_items.insert_many([{"_id": "soup", "stock": 0, "reservations": {}}, item])
    with pytest.raises(AssertionError, match="pizza"):
        await check_stock_documents(mongo_db)


async def test_settled_stock_passes(mongo_db: Db) -> None:
    await mongo_db.menu_items.insert_one({"_id": "soup", "stock": 0, "reservations": {}})
    await check_stock_documents(mongo_db)


async def test_a_dead_letter_fails(redis: Redis, streams: Streams) -> None:
    await check_no_dead_letters(redis, streams)
    await redis.xadd(f"{DLQ_PREFIX}{streams.orders_events}", {"reason": "poison"})
    with pytest.raises(AssertionError, match="poison"):
        await check_no_dead_letters(redis, streams)


async def test_pending_entries_and_leftover_consumers_fail(redis: Redis, streams: Streams) -> None:
    stream = streams.orders_events
    readers = {stream: ["g"]}
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await redis.xadd(stream, {"id": "m1"})
    await redis.xreadgroup("g", "local", {stream: ">"}, count=1)
    await check_consumers(redis, readers, ["local"])
    await check_nothing_pending_past(redis, readers, idle_ms=3_600_000)
    with pytest.raises(AssertionError, match="pending longer"):
        await check_nothing_pending_past(redis, readers, idle_ms=0)
    await redis.xgroup_createconsumer(stream, "g", "local-pid-123")  # a dead process's name
    with pytest.raises(AssertionError, match="local-pid-123"):
        await check_consumers(redis, readers, ["local"])


class EndingBetweenReads(CourierWatch):
    """The deliveries change after the first read of a sample, as they may in a real run."""

    async def on_the_road(self, order_ids: Any = None) -> dict[str, str]:
        found = await super().on_the_road(order_ids)
        if order_ids is None:
            await self.db.deliveries.update_one({"_id": "a"}, {"$set": {"status": "delivered"}})
        return found


async def test_the_courier_watch_sees_a_courier_on_two_orders(mongo_db: Db) -> None:
    await mongo_db.deliveries.insert_many(
        [
            {"_id": "a", "status": "picked_up", "courier_id": "c1"},
            {"_id": "b", "status": "assigned", "courier_id": "c1"},
            {"_id": "c", "status": "assigned", "courier_id": "c2"},
        ]
    )
    watch = CourierWatch(mongo_db)
    await watch.sample()
    assert watch.double_bookings == [("c1", ["a", "b"])]


async def test_the_courier_watch_ignores_a_courier_passed_on_between_its_reads(
    mongo_db: Db,
) -> None:
    await mongo_db.deliveries.insert_many(
        [
            {"_id": "a", "status": "picked_up", "courier_id": "c1"},
            {"_id": "b", "status": "assigned", "courier_id": "c1"},
        ]
    )
    watch = EndingBetweenReads(mongo_db)
    await watch.sample()
    assert watch.double_bookings == []
    assert (watch.samples, watch.seen_on_the_road) == (1, 2)
