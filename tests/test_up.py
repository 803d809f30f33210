"""`orders-saga up` as a user runs it: orders complete, Ctrl-C is clean, kill -9 loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from orders.menu import DEFAULT_MENU, DEFAULT_STOCK

from .system import FAST_ACTORS, System, order_body, wait_ready

pytestmark = pytest.mark.slow


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    running = System(tmp_path / "data", env=FAST_ACTORS)
    yield running
    running.stop()


async def place(client: httpx.AsyncClient, n: int) -> httpx.Response:
    return await client.post(
        "/api/orders", json=order_body(n), headers={"Idempotency-Key": f"order-{n}"}
    )


async def until_terminal(
    client: httpx.AsyncClient, orders: dict[str, str], timeout_s: float = 90.0
) -> dict[str, dict[str, Any]]:
    """Every order's tracking view once all are delivered or cancelled."""
    deadline = time.monotonic() + timeout_s
    views: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for order_id, token in orders.items():
            if views.get(order_id, {}).get("status") in ("delivered", "cancelled"):
                continue
            response = await client.get(
                f"/api/tracking/{order_id}", headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 200:
                views[order_id] = response.json()
        if len(views) == len(orders) and all(
            v["status"] in ("delivered", "cancelled") for v in views.values()
        ):
            return views
        await asyncio.sleep(0.5)
    stuck = {
        k: v.get("status")
        for k, v in views.items()
        if v.get("status") not in ("delivered", "cancelled")
    }
    raise AssertionError(f"orders not terminal after {timeout_s}s: {stuck}")


def check_invariants(
    views: dict[str, dict[str, Any]], bodies: dict[str, dict[str, Any]], menu: list[dict[str, Any]]
) -> None:
    sold: Counter[str] = Counter()
    for order_id, view in views.items():
        versions = [entry["version"] for entry in view["timeline"]]
        assert versions == list(range(1, view["version"] + 1)), (order_id, versions)
        statuses = [entry["status"] for entry in view["timeline"]]
        assert statuses[0] == "placed"
        if "preparing" in statuses:  # the kitchen took the food: it stays sold
            for line in bodies[order_id]["items"]:
                sold[line["item_id"]] += line["quantity"]
    stock = {item["id"]: item["stock"] for item in menu}
    assert stock == {item["id"]: DEFAULT_STOCK - sold[item["id"]] for item in DEFAULT_MENU}


async def settled_menu(
    client: httpx.AsyncClient, views: dict[str, dict[str, Any]], bodies: dict[str, dict[str, Any]]
) -> None:
    """Stock settles shortly after the last order ends: wait for it, then check."""
    deadline = time.monotonic() + 20
    while True:
        menu = (await client.get("/api/menu")).json()
        try:
            check_invariants(views, bodies, menu)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_orders_complete_and_a_websocket_follows_one_live(system: System) -> None:
    system.start()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        first = (await place(client, 0)).json()
        ws_url = (
            f"ws://127.0.0.1:{system.port}/ws/tracking/{first['id']}"
            f"?token={first['tracking_token']}&since=0"
        )
        async with websockets.connect(ws_url) as socket:
            snapshot = json.loads(await socket.recv())
            assert snapshot["type"] == "snapshot"
            seen = [entry["version"] for entry in snapshot["timeline"]]
            status = snapshot["status"]
            others = [await place(client, n) for n in range(1, 10)]
            assert all(r.status_code == 201 for r in others)
            while status not in ("delivered", "cancelled"):
                message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if message["type"] == "status":
                    seen.append(message["version"])
                    status = message["status"]
        assert seen == list(range(1, seen[-1] + 1))
        orders = {first["id"]: first["tracking_token"]}
        orders.update({r.json()["id"]: r.json()["tracking_token"] for r in others})
        bodies = {r.json()["id"]: order_body(n) for n, r in enumerate(others, start=1)}
        bodies[first["id"]] = order_body(0)
        views = await until_terminal(client, orders)
        await settled_menu(client, views, bodies)
    code, seconds = system.interrupt()
    assert code == 0
    assert seconds < 15


async def test_kill_9_mid_load_then_up_again_finishes_every_order(system: System) -> None:
    system.start()
    bodies: dict[int, dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)

        async def place_noting(n: int) -> None:
            bodies[n] = order_body(n)
            # an answer lost in the crash is found out by the retry below
            with contextlib.suppress(httpx.TransportError):
                await place(client, n)

        placing = [asyncio.create_task(place_noting(n)) for n in range(60)]
        await asyncio.sleep(0.8)
        system.kill_process_group()
        await asyncio.gather(*placing)

    system.start()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        orders: dict[str, str] = {}
        by_id: dict[str, dict[str, Any]] = {}
        for n, body in bodies.items():
            # the client retries with the same key: the original answer, or a first one
            response = await place(client, n)
            while response.status_code == 409 and (
                response.json()["detail"]["code"] == "idempotency_key_in_flight"
            ):  # cut off by the crash: taken over once IDEMPOTENCY_IN_FLIGHT_S has passed
                await asyncio.sleep(0.5)
                response = await place(client, n)
            assert response.status_code in (201, 409), response.text
            if response.status_code == 201:
                created = response.json()
                orders[created["id"]] = created["tracking_token"]
                by_id[created["id"]] = body
        assert len(orders) >= 50  # out-of-stock answers are possible but rare here
        views = await until_terminal(client, orders)
        await settled_menu(client, views, by_id)
        outcomes = Counter(v["status"] for v in views.values())
        assert outcomes["delivered"] > 0
