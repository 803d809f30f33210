"""What the saga remembers without reading: orders in flight, not ended ones."""

from __future__ import annotations

from orders.saga import KnownOrders
from saga_contracts.messages import OrderStatus


def order(order_id: str, status: OrderStatus, version: int) -> dict[str, object]:
    return {"_id": order_id, "status": status.value, "version": version}


def test_the_latest_version_of_an_order_in_flight_is_remembered() -> None:
    known = KnownOrders()
    known.put(order("a", OrderStatus.PLACED, 1))
    known.put(order("a", OrderStatus.PAID, 2))
    assert known.get("a") == order("a", OrderStatus.PAID, 2)


def test_ended_orders_have_a_short_memory_of_their_own() -> None:
    known = KnownOrders(capacity=100, ended_capacity=2)
    for n in range(3):
        known.put(order(f"e{n}", OrderStatus.PICKED_UP, 6))
        known.put(order(f"e{n}", OrderStatus.DELIVERED, 7))
    known.put(order("flying", OrderStatus.PLACED, 1))
    assert known.get("e0") is None  # beyond the ended orders' capacity
    assert known.get("e2") == order("e2", OrderStatus.DELIVERED, 7)
    assert known.get("flying") is not None  # ended orders never push out orders in flight


def test_the_oldest_is_dropped_beyond_capacity() -> None:
    known = KnownOrders(capacity=2)
    for n in range(3):
        known.put(order(str(n), OrderStatus.PLACED, 1))
    assert [known.get(str(n)) is not None for n in range(3)] == [False, True, True]
