"""One `Idempotency-Key` posted to two orders processes: at most one order, whatever the timing.

Two orders services share one Redis and one MongoDB. The first attempt is held inside its
reservations (as a slow or paused process would be) until the second one, after the in-flight
age, has taken the key over; then each is let go at the moment that used to break the key.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from orders.app import build_service
from orders.menu import DEFAULT_STOCK
from orders.settings import OrdersSettings
from orders.store import MenuStore
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running
from sagakit.testing.workers import fast_settings
from sagakit.web import ServiceApp

from .conftest import CUSTOMER, SECRETS

IN_FLIGHT_S = 0.2
# Reserved in this order (by item id): the first attempt holds `EARLY` when it is paused
# before `LATE`.
EARLY, LATE = "espresso", "margherita"
BODY = {
    "customer": CUSTOMER,
    "items": [{"item_id": EARLY, "quantity": 1}, {"item_id": LATE, "quantity": 1}],
}


class PausedBefore:
    """Replaces a process's `MenuStore.reserve`: its next reservation of `item_id` waits
    until `resume` is set."""

    def __init__(self, menu: MenuStore, item_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached = asyncio.Event()
        self.resume = asyncio.Event()
        real = menu.reserve

        async def reserve(reserved_item: str, order_id: str, quantity: int) -> bool:
            if reserved_item == item_id and not self.resume.is_set():
                self.reached.set()
                await self.resume.wait()
            return await real(reserved_item, order_id, quantity)

        monkeypatch.setattr(menu, "reserve", reserve)


@pytest_asyncio.fixture
async def two_processes(
    redis_url: str, mongo_url: str, namespace: str
) -> AsyncIterator[tuple[ServiceApp, ServiceApp, httpx.AsyncClient, httpx.AsyncClient]]:
    database = f"t_{uuid.uuid4().hex[:10]}"
    services = [
        build_service(
            OrdersSettings(idempotency_in_flight_s=IN_FLIGHT_S),
            ConnectionSettings(
                redis_url=redis_url,
                mongo_url=mongo_url,
                mongo_db=database,
                consumer_name=f"orders-{n}",
                stream_prefix=f"{namespace}.",
            ),
            fast_settings(),
            SECRETS,
        )
        for n in (1, 2)
    ]
    async with running(*services) as (first, second):
        yield services[0], services[1], first, second


def menu_of(service: ServiceApp) -> MenuStore:
    menu: MenuStore = service.app.state.orders.menu
    return menu


async def post(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/api/orders", json=BODY, headers={"Idempotency-Key": "k-race"})


async def item(service: ServiceApp, item_id: str) -> dict[str, Any]:
    found = await menu_of(service).items.find_one({"_id": item_id})
    assert found is not None
    return found


async def taken_over_while_paused(
    first: ServiceApp,
    second: ServiceApp,
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[PausedBefore, PausedBefore, asyncio.Task[httpx.Response], asyncio.Task[httpx.Response]]:
    """The first attempt paused before `LATE`; the second, after the in-flight age, took the
    key over and is paused before `LATE` too."""
    first_pause = PausedBefore(menu_of(first), LATE, monkeypatch)
    second_pause = PausedBefore(menu_of(second), LATE, monkeypatch)
    first_attempt = asyncio.create_task(post(clients[0]))
    await asyncio.wait_for(first_pause.reached.wait(), 10)
    await asyncio.sleep(IN_FLIGHT_S * 1.5)  # the first attempt now counts as dead
    second_attempt = asyncio.create_task(post(clients[1]))
    await asyncio.wait_for(second_pause.reached.wait(), 10)
    return first_pause, second_pause, first_attempt, second_attempt


async def test_a_superseded_attempt_that_fails_leaves_the_key_to_its_new_owner(
    two_processes: tuple[ServiceApp, ServiceApp, httpx.AsyncClient, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, *clients = two_processes
    await menu_of(first).patch(LATE, {"stock": 0})
    first_pause, second_pause, first_attempt, second_attempt = await taken_over_while_paused(
        first, second, (clients[0], clients[1]), monkeypatch
    )
    first_pause.resume.set()  # the first attempt finds no stock: it must not undo the second's
    failed = await first_attempt
    await menu_of(first).patch(LATE, {"stock": 5})  # e.g. a cancelled order returned some
    second_pause.resume.set()
    created = await second_attempt

    assert failed.status_code == 409
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    again = await post(clients[0])
    assert again.status_code == 201 and again.json()["id"] == order_id
    assert await menu_of(first).items.database.orders.count_documents({}) == 1
    early = await item(first, EARLY)
    assert order_id in early["reservations"]  # the stock the order holds is still taken
    assert early["stock"] == DEFAULT_STOCK - 1


async def test_a_superseded_attempt_does_not_create_the_order_its_new_owner_gave_up(
    two_processes: tuple[ServiceApp, ServiceApp, httpx.AsyncClient, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, *clients = two_processes
    await menu_of(first).patch(LATE, {"stock": 0})
    first_pause, second_pause, first_attempt, second_attempt = await taken_over_while_paused(
        first, second, (clients[0], clients[1]), monkeypatch
    )
    second_pause.resume.set()  # the key's owner finds no stock: it gives the key up
    given_up = await second_attempt
    await menu_of(first).patch(LATE, {"stock": 5})
    first_pause.resume.set()
    late = await first_attempt

    assert given_up.status_code == 409
    assert given_up.json()["detail"]["code"] == "out_of_stock"
    assert late.status_code == 409  # it no longer owns the key: it creates nothing
    assert await menu_of(first).items.database.orders.count_documents({}) == 0
    early = await item(first, EARLY)
    assert early["reservations"] == {}  # released by the owner; the order never existed
    retried = await post(clients[0])
    assert retried.status_code == 201, retried.text
    assert await menu_of(first).items.database.orders.count_documents({}) == 1
