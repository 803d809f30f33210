"""`kill -9` of one service's process mid-load under `up --processes`: the supervisor starts it
again, and nothing is lost or applied twice.

Each test places orders concurrently (each with its own Idempotency-Key), kills one service's
process while requests and sagas are in flight, waits for its replacement, retries every
order with its key until it has a final answer, and then checks from outside
(tests/invariants.py): every accepted order terminal, versions gap-free from 1, stock
conserved; from the stores: each order stored once, every deadline fired, every delivery
ended, no courier held. Customers watching orders over WebSockets see every version once, in
order, across the reconnection the kill forces when it is the notifications process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .invariants import TERMINAL, Load, place, settled_menu, stores_settled, until_terminal
from .system import FAST_ACTORS, System, order_body, wait_ready

pytestmark = pytest.mark.slow

SERVICES = ("orders", "delivery", "notifications", "actors")
ORDERS = 60
ANSWERED_BEFORE_KILL = 20  # the kill lands with the rest of the requests in flight
WATCHED = 5


# Deadlines short enough to fall due while a process is down: steps waiting on the killed
# service time out (deadlines fire, late if orders or delivery was the one down) and the late
# answers get their compensation.
SHORT_DEADLINES = {
    "PAYMENT_TIMEOUT_S": "3",
    "KITCHEN_ACCEPT_TIMEOUT_S": "3",
    "KITCHEN_READY_TIMEOUT_S": "5",
    "COURIER_ASSIGN_TIMEOUT_S": "5",
    "PICKUP_TIMEOUT_S": "5",
    "DELIVERY_TIMEOUT_S": "5",
    "NO_COURIER_TIMEOUT_S": "4",
}


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    running = System(
        tmp_path / "data",
        env={**FAST_ACTORS, **SHORT_DEADLINES, "FRONTEND_BUILD": "never"},
        args=("--processes",),
    )
    yield running
    running.stop()


@dataclass
class Watcher:
    """A customer following one order over the tracking WebSocket, reconnecting with
    `since=<last version seen>` whenever the socket is closed."""

    order_id: str
    token: str
    body: dict[str, Any]
    versions: list[int] = field(default_factory=list)
    status: str | None = None
    connections: int = 0
    rewinds: list[tuple[int, int]] = field(default_factory=list)  # (since, snapshot version)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # a terminal status seen

    async def follow(self, port: int) -> None:
        while True:
            since = self.versions[-1] if self.versions else 0
            url = (
                f"ws://127.0.0.1:{port}/ws/tracking/{self.order_id}"
                f"?token={self.token}&since={since}"
            )
            with contextlib.suppress(ConnectionClosed, InvalidStatus, OSError, TimeoutError):
                async with websockets.connect(url, open_timeout=5) as socket:
                    self.connections += 1
                    self.connected.set()
                    async for raw in socket:
                        self._on(json.loads(raw), since)
            await asyncio.sleep(0.2)  # closed (the service restarting) or refused (503)

    def _on(self, message: dict[str, object], since: int) -> None:
        if message["type"] == "snapshot":
            version = message["version"]
            assert isinstance(version, int)
            if message["status"] is not None and version < since:
                self.rewinds.append((since, version))
            entries = message["timeline"]
            assert isinstance(entries, list)
        elif message["type"] == "status":
            entries = [message]
        else:
            return  # heartbeat
        for entry in entries:
            self.versions.append(entry["version"])
            self.status = entry["status"]
        if self.status in TERMINAL:
            self.ended.set()


async def start_load(client: httpx.AsyncClient, load: Load) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(load.place_ignoring_faults(client, n)) for n in range(ORDERS)]


async def until_answered(tasks: list[asyncio.Task[None]], count: int) -> None:
    for answered, next_done in enumerate(asyncio.as_completed(tasks), start=1):
        await next_done
        if answered == count:
            return


async def watch_some(client: httpx.AsyncClient) -> dict[str, Watcher]:
    """Orders placed for watching (before the load, so numbered after it)."""
    watchers = {}
    for n in range(ORDERS, ORDERS + WATCHED):
        created = (await place(client, n)).json()
        watchers[created["id"]] = Watcher(created["id"], created["tracking_token"], order_body(n))
    return watchers


async def until_all(events: list[asyncio.Event], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        await asyncio.gather(*(event.wait() for event in events))


@pytest.mark.parametrize("service", SERVICES)
async def test_kill_9_of_one_service_process_mid_load_loses_nothing(
    system: System, service: str
) -> None:
    system.start()
    load = Load()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        watchers = await watch_some(client)
        following = [asyncio.create_task(w.follow(system.port)) for w in watchers.values()]
        await until_all([w.connected for w in watchers.values()], 10)

        placing = await start_load(client, load)
        await until_answered(placing, ANSWERED_BEFORE_KILL)
        killed = system.kill_service(service)
        await asyncio.gather(*placing)
        await system.until_restarted(service, killed)
        await wait_ready(client)

        orders, by_id = await load.settle(client)
        assert len(orders) >= ORDERS - 10  # out-of-stock answers are possible but rare here
        for watcher in watchers.values():
            orders[watcher.order_id] = watcher.token
            by_id[watcher.order_id] = watcher.body
        views = await until_terminal(client, orders)
        await until_all([w.ended for w in watchers.values()], 30)
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
        await settled_menu(client, views, by_id)
        await stores_settled(system.runtime(), set(orders))

    for watcher in watchers.values():
        view = views[watcher.order_id]
        assert watcher.versions == list(range(1, view["version"] + 1)), watcher
        assert watcher.status == view["status"]
        assert not watcher.rewinds, watcher
        if service == "notifications":  # every socket was open when the process died
            assert watcher.connections >= 2, watcher
    assert any(v["status"] == "delivered" for v in views.values())


async def test_processes_mode_serves_one_address_and_stops_cleanly_on_ctrl_c(
    system: System,
) -> None:
    system.start()
    children = {name: info["pid"] for name, info in system.runtime()["processes"].items()}
    assert set(children) == set(SERVICES)
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        ready = (await client.get("/readyz")).json()
        assert {report["service"] for report in ready["services"]} == set(SERVICES)
        assert (await client.get("/api/menu")).status_code == 200
        assert (await client.get("/api/couriers")).status_code == 401  # delivery, no key
        assert (await client.get("/api/ops/streams")).status_code == 401  # notifications
    code, seconds = system.interrupt()
    assert code == 0
    assert seconds < 15
    for pid in children.values():
        assert not _running(pid), f"service process {pid} outlived up"


def _running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (one nobody reaped is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
