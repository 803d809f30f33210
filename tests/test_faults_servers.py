"""Black-box faults of the servers under a running `orders-saga up`: Redis killed and restarted
on its AOF, Redis restarted empty, MongoDB killed (-9) and restarted on its data, and long
outages of each (`FAULT_OUTAGE_S`, 60 s by default) under a loop of orders.

`up` runs as a user runs it, pointed at a Redis and a MongoDB this test owns (REDIS_URL,
MONGO_URL), on fixed ports. Orders are placed through the fault, each with its own
Idempotency-Key, and retried afterwards with the same key; a tracking WebSocket follows one
order through the fault, reconnecting with since=<last version seen> whenever it is cut. Each
test ends by checking that nothing was lost or applied twice: every accepted order terminal,
its versions gap-free from 1, the stock conserved, each order stored once, no deadline left
unfired, no courier held (tests/invariants.py), and the socket saw every version once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from sagakit.connections import redis_client
from sagakit.dead_letters import DeadLetters

from .invariants import TERMINAL, Load, place, settled_menu, stores_settled, until_terminal
from .servers import OwnedMongo, OwnedRedis
from .system import FAST_ACTORS, System, order_body, wait_ready

pytestmark = pytest.mark.slow

ORDERS = 60
SPACING_S = 0.05  # orders are placed over 3 s: the fault lands in the middle of the load
FAULT_AFTER_S = 1.2
# Cancel reasons the simulated participants produce by themselves (FAST_ACTORS keeps the
# default failure rates). Any other reason means a step's deadline ended the order.
ACTOR_REASONS = {"payment_declined", "kitchen_rejected", "delivery_failed"}


def system_env(redis: OwnedRedis, mongo: OwnedMongo, **extra: str) -> dict[str, str]:
    return {**FAST_ACTORS, "REDIS_URL": redis.url, "MONGO_URL": mongo.fixed_url, **extra}


@pytest.fixture
def owned_redis(tmp_path: Path) -> Iterator[OwnedRedis]:
    server = OwnedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def owned_mongo(tmp_path: Path) -> Iterator[OwnedMongo]:
    server = OwnedMongo(tmp_path / "mongo")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_system(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], System]]:
    systems: list[System] = []

    def make(env: dict[str, str]) -> System:
        system = System(tmp_path / "data", env=env)
        systems.append(system)
        system.start()
        return system

    yield make
    for system in systems:
        system.stop()


# ---- a tracking client that reconnects -----------------------------------------------------


class Follower:
    """Follows one order over `/ws/tracking` until it is terminal, reconnecting with
    since=<last version seen> whenever the socket is cut. `cut()` makes it drop its socket
    once (whenever that is, even after the order ended) and resume on a new one."""

    def __init__(self, port: int, order: dict[str, Any]) -> None:
        self._url = (
            f"ws://127.0.0.1:{port}/ws/tracking/{order['id']}?token={order['tracking_token']}"
        )
        self.versions: list[int] = []
        self.status: str | None = None
        self.connections = 0
        self.resumed = False  # connected again after dropping its socket at the cut
        self._cut = asyncio.Event()
        self._dropped = False

    def cut(self) -> None:
        self._cut.set()

    def _done(self) -> bool:
        return self.status in TERMINAL and self.resumed

    async def run(self, timeout_s: float = 90.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not self._done():
                last = self.versions[-1] if self.versions else 0
                try:
                    async with websockets.connect(f"{self._url}&since={last}") as socket:
                        self.connections += 1
                        self.resumed = self._dropped
                        await self._read(socket)
                except (websockets.ConnectionClosed, websockets.InvalidStatus, OSError):
                    await asyncio.sleep(0.3)  # the server is up; a dependency may not be

    async def _read(self, socket: websockets.ClientConnection) -> None:
        while not self._done():
            if self._cut.is_set() and not self._dropped:
                self._dropped = True
                return  # leaving the block closes the socket; run() connects again
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
            except TimeoutError:
                continue
            entries = {"snapshot": message.get("timeline", []), "status": [message]}
            for entry in entries.get(message["type"], []):
                self.versions.append(entry["version"])
                self.status = entry["status"]


# ---- what must hold after the fault --------------------------------------------------------


async def feed_subscriptions(system: System) -> float:
    """How many times notifications (re)made its pub/sub subscription, from /metrics."""
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("notifications_feed_reconnects_total "):
            return float(line.split()[1])
    raise AssertionError("notifications_feed_reconnects_total not in /metrics")


async def run_load_through(
    system: System, fault: Callable[[], Awaitable[None]]
) -> dict[str, dict[str, Any]]:
    """Place the orders over a few seconds with `fault` in the middle, and follow one placed
    just before the fault on a WebSocket (cut at the fault, so it resumes with since=<last>);
    then retry every order with its key and check the invariants. Returns the final views."""
    load = Load()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)

        async def place_later(n: int) -> None:
            await asyncio.sleep(n * SPACING_S)
            await load.place_ignoring_faults(client, n)

        placing = [asyncio.create_task(place_later(n)) for n in range(1, ORDERS)]
        await asyncio.sleep(FAULT_AFTER_S - 0.2)
        load.bodies[0] = order_body(0)
        followed = await place(client, 0)
        assert followed.status_code == 201, followed.text
        follower = Follower(system.port, followed.json())
        following = asyncio.create_task(follower.run())
        await asyncio.sleep(0.2)
        follower.cut()
        await fault()
        await asyncio.gather(*placing)

        orders, by_id = await load.settle(client)
        assert followed.json()["id"] in orders  # the same key gives the same order back
        assert len(orders) >= ORDERS - 5  # out of stock is possible, but rare here
        views = await until_terminal(client, orders)
        await settled_menu(client, views, by_id)
        await stores_settled(system.runtime(), set(orders))
        await following
    assert follower.versions == list(range(1, follower.versions[-1] + 1)), follower.versions
    assert follower.status == views[followed.json()["id"]]["status"]
    assert follower.resumed and follower.connections >= 2  # cut at the fault, then resumed
    return views


def reasons(views: dict[str, dict[str, Any]]) -> Counter[str]:
    return Counter(
        view["timeline"][-1].get("reason") or ""
        for view in views.values()
        if view["status"] == "cancelled"
    )


# ---- the faults ------------------------------------------------------------------------------


async def test_redis_killed_and_restarted_on_its_aof_loses_nothing(
    owned_redis: OwnedRedis, owned_mongo: OwnedMongo, make_system: Callable[..., System]
) -> None:
    system = make_system(system_env(owned_redis, owned_mongo))

    async def crash_and_restart() -> None:
        await asyncio.to_thread(owned_redis.crash)
        await asyncio.sleep(1.0)  # down for a moment: requests and consumers see it
        await asyncio.to_thread(owned_redis.start)

    views = await run_load_through(system, crash_and_restart)
    # the pub/sub fan-out to tracking sockets subscribed again after the restart
    assert await feed_subscriptions(system) >= 2
    # Nothing was lost, so no order needed a deadline to end (the defaults are 30 s and more):
    # every cancel is the participants' own answer.
    assert set(reasons(views)) <= ACTOR_REASONS, reasons(views)
    assert Counter(v["status"] for v in views.values())["delivered"] > 0


async def test_redis_restarted_empty_every_accepted_order_still_ends(
    owned_redis: OwnedRedis, owned_mongo: OwnedMongo, make_system: Callable[..., System]
) -> None:
    """Streams, groups, pending entries and the actors' delayed answers are gone. Groups come
    back at id 0 (NOGROUP), outboxes not yet published are swept, statuses lost before
    notifications read them are asked for again, and every order whose command or answer was
    lost ends by its step's deadline, which lives in MongoDB."""
    steps = {
        f"{step}_TIMEOUT_S": "5"
        for step in ("PAYMENT", "KITCHEN_ACCEPT", "KITCHEN_READY", "COURIER_ASSIGN", "PICKUP")
    }
    env = system_env(
        owned_redis,
        owned_mongo,
        **steps,
        DELIVERY_TIMEOUT_S="5",
        NO_COURIER_TIMEOUT_S="4",
        # cooking takes a while, so many orders wait for the kitchen when Redis is emptied
        KITCHEN_COOK_DELAY="uniform:500:1500",
        RECONCILE_INTERVAL_S="1",
        RECONCILE_WAITING_S="2",
        RECONCILE_STALE_S="7",
        RECONCILE_REPEAT_S="3",
        # the janitor settles the stock of an order whose end event was lost with Redis
        RESERVATION_GRACE_S="5",
    )
    system = make_system(env)

    async def restart_empty() -> None:
        await asyncio.to_thread(owned_redis.restart_empty)

    views = await run_load_through(system, restart_empty)
    # the pub/sub fan-out to tracking sockets subscribed again after the restart
    assert await feed_subscriptions(system) >= 2
    # Any terminal outcome is allowed: an order whose answer was lost is cancelled by its
    # deadline (reason "timeout" before the food is ready, later "no_courier" or
    # "delivery_failed"), the others end as their participants decide. That orders waiting
    # for the kitchen at the restart were cancelled by their deadline shows the fault hit.
    assert reasons(views)["timeout"] > 0, reasons(views)
    assert Counter(v["status"] for v in views.values())["delivered"] > 0


async def test_mongodb_killed_and_restarted_on_its_data_loses_nothing(
    owned_redis: OwnedRedis, owned_mongo: OwnedMongo, make_system: Callable[..., System]
) -> None:
    system = make_system(system_env(owned_redis, owned_mongo))

    async def kill_and_restart() -> None:
        await asyncio.to_thread(owned_mongo.kill)
        await asyncio.sleep(1.0)  # down for a moment: requests get 503, handlers wait
        await asyncio.to_thread(owned_mongo.start)

    views = await run_load_through(system, kill_and_restart)
    # Every write MongoDB acknowledged survived, and the rest were retried: no order needed a
    # deadline to end.
    assert set(reasons(views)) <= ACTOR_REASONS, reasons(views)
    assert Counter(v["status"] for v in views.values())["delivered"] > 0


# ---- long outages: waited out, never dead-lettered -----------------------------------------
# The worker waits a failure out, uncounted, only while a dependency fails its ping
# (sagakit.dependencies); an outage must therefore dead-letter nothing, and every order must
# complete afterwards without a deadline. Each test lasts about the outage plus 40 s.

OUTAGE_S = float(os.environ.get("FAULT_OUTAGE_S", "60"))
ORDER_EVERY_S = 0.5
# Steps outlast the outage, so an order that ends cancelled by a deadline shows a lost message.
STEP_TIMEOUTS = {
    f"{step}_TIMEOUT_S": str(int(OUTAGE_S) + 120)
    for step in (
        "PAYMENT",
        "KITCHEN_ACCEPT",
        "KITCHEN_READY",
        "COURIER_ASSIGN",
        "PICKUP",
        "DELIVERY",
        "NO_COURIER",
    )
}


async def orders_through_an_outage(
    system: System, take_down: Callable[[], Awaitable[None]], bring_back: Callable[[], None]
) -> dict[str, dict[str, Any]]:
    """Orders placed every ORDER_EVERY_S from before the outage to after it; then each retried
    with its key until answered, and the invariants checked. Returns the final views."""
    load = Load()
    async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
        await wait_ready(client)
        stop = asyncio.Event()

        async def place_in_a_loop() -> None:
            n = 0
            while not stop.is_set():
                await load.place_ignoring_faults(client, n)
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ORDER_EVERY_S)

        placing = asyncio.create_task(place_in_a_loop())
        await asyncio.sleep(3)  # orders in every step when the server goes
        await take_down()
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(bring_back)
        await asyncio.sleep(3)
        stop.set()
        await placing

        orders, by_id = await load.settle(client)
        views = await until_terminal(client, orders, timeout_s=OUTAGE_S + 90)
        await settled_menu(client, views, by_id)
        await stores_settled(system.runtime(), set(orders))
    return views


async def dead_letters_of(system: System) -> dict[str, int]:
    redis = redis_client(system.runtime()["redis_url"])
    try:
        dead = DeadLetters(redis)
        return {stream: await dead.count(stream) for stream in await dead.streams()}
    finally:
        await redis.aclose()


@pytest.mark.timeout(OUTAGE_S + 200)
async def test_a_long_redis_outage_under_load_dead_letters_nothing(
    owned_redis: OwnedRedis, owned_mongo: OwnedMongo, make_system: Callable[..., System]
) -> None:
    system = make_system(system_env(owned_redis, owned_mongo, **STEP_TIMEOUTS))

    async def take_down() -> None:
        await asyncio.to_thread(owned_redis.crash)

    views = await orders_through_an_outage(system, take_down, owned_redis.start)
    assert await dead_letters_of(system) == {}
    assert set(reasons(views)) <= ACTOR_REASONS, reasons(views)
    assert any(view["status"] == "delivered" for view in views.values())


@pytest.mark.timeout(OUTAGE_S + 200)
async def test_a_long_mongodb_outage_under_load_dead_letters_nothing(
    owned_redis: OwnedRedis, owned_mongo: OwnedMongo, make_system: Callable[..., System]
) -> None:
    system = make_system(system_env(owned_redis, owned_mongo, **STEP_TIMEOUTS))

    async def take_down() -> None:
        await asyncio.to_thread(owned_mongo.kill)

    views = await orders_through_an_outage(system, take_down, owned_mongo.start)
    assert await dead_letters_of(system) == {}
    assert set(reasons(views)) <= ACTOR_REASONS, reasons(views)
    assert any(view["status"] == "delivered" for view in views.values())
