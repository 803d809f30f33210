"""Every status is recorded in the order's history; notifications can ask for them again."""

from __future__ import annotations

from orders.saga import recorded_statuses
from saga_contracts.messages import (
    KitchenAccepted,
    KitchenRejected,
    PaymentAuthorized,
    RepublishStatuses,
)
from sagakit.testing.waiting import eventually

from .conftest import OrdersUnderTest
from .test_saga_flow import order_doc, place, reach, reply, statuses


async def test_each_status_change_is_recorded_in_the_history(orders_app: OrdersUnderTest) -> None:
    app, s = orders_app, orders_app.streams
    oid = (await place(app))["id"]
    placed = await order_doc(app, oid)
    assert list(placed["history"]) == ["v000001"]
    assert placed["history"]["v000001"]["status"] == "placed"
    assert "reason" not in placed["history"]["v000001"]

    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p1"), oid)
    await reach(app, oid, "paid")
    await reply(app, s.kitchen_events, KitchenRejected(order_id=oid, detail="no oven"), oid)
    done = await reach(app, oid, "cancelled")

    history = done["history"]
    assert sorted(history) == ["v000001", "v000002", "v000003"]
    assert [history[k]["status"] for k in sorted(history)] == ["placed", "paid", "cancelled"]
    assert history["v000003"]["reason"] == "kitchen_rejected"
    assert history["v000003"]["at"] == done["updated_at"]


async def test_republish_emits_the_versions_after_the_one_asked_in_order(
    orders_app: OrdersUnderTest,
) -> None:
    app, s = orders_app, orders_app.streams
    oid = (await place(app))["id"]
    await reply(app, s.payments_events, PaymentAuthorized(order_id=oid, payment_id="p1"), oid)
    await reach(app, oid, "paid")
    await reply(app, s.kitchen_events, KitchenAccepted(order_id=oid), oid)
    before = await reach(app, oid, "preparing")
    await eventually(lambda: _count(app, oid, 3), what="the three original statuses")

    ask = RepublishStatuses(order_id=oid, after_version=1)
    await app.publisher.publish(s.orders_commands, ask.envelope(key=oid, version=0))

    await eventually(lambda: _count(app, oid, 5), what="the republished statuses")
    events = await statuses(app, oid)
    assert events == [
        (1, "placed", None),
        (2, "paid", None),
        (3, "preparing", None),
        (2, "paid", None),
        (3, "preparing", None),
    ]
    after = await order_doc(app, oid)
    assert after["version"] == before["version"] and after["status"] == "preparing"


def test_recorded_statuses_are_those_after_the_version_asked_in_order() -> None:
    at = "2026-01-01T00:00:00.000+00:00"
    order = {
        "_id": "o1",
        "history": {
            "v000003": {"status": "cancelled", "reason": "payment_declined", "at": at},
            "v000001": {"status": "placed", "at": at},
            "v000002": {"status": "paid", "at": at},
            "note": {"status": "paid", "at": at},  # not a version key: ignored
        },
    }
    found = recorded_statuses(order, 1)
    assert [(e.version, e.status.value) for e in found] == [(2, "paid"), (3, "cancelled")]
    assert found[1].reason is not None and found[1].reason.value == "payment_declined"
    assert recorded_statuses(order, 3) == []


def test_an_order_recorded_before_the_history_existed_has_nothing_to_republish() -> None:
    assert recorded_statuses({"_id": "o1", "status": "paid", "version": 2}, 0) == []


async def _count(app: OrdersUnderTest, order_id: str, expected: int) -> bool:
    return len(await statuses(app, order_id)) >= expected
