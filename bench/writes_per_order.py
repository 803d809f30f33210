"""MongoDB commands per order through the whole saga (all services + actors in this process).

    uv run python bench/writes_per_order.py [--orders 200]

Counts what the services send (pymongo command monitoring), by command and by collection,
divided by the number of orders, twice: operations (each single-document write counts once,
also when it shares a `bulk_write` with others; each read or other command once) and round
trips (commands on the wire: a coalesced batch of writes is one). Each round trip costs CPU in
the driver and in the embedded MongoDB, so round trips are the budget that decides orders/s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from pymongo import monitoring

from delivery.app import build_service as build_delivery
from delivery.settings import DeliverySettings
from notifications.app import build_service as build_notifications
from orders.app import build_service as build_orders
from orders.settings import OrdersSettings
from saga_contracts.secrets import Secrets
from sagakit.embedded.mongo import EmbeddedMongo
from sagakit.embedded.redis import RedisServer
from sagakit.logs import configure_logging
from sagakit.settings import ConnectionSettings
from sagakit.testing.services import running
from simulator.actors.app import build_service as build_actors
from simulator.actors.settings import ActorSettings

WRITES = {"insert", "update", "findAndModify", "delete"}
# The field of a write command that lists its single-document writes.
BATCHED = {"insert": "documents", "update": "updates", "delete": "deletes"}


class Counting(monitoring.CommandListener):
    def __init__(self) -> None:
        self.trips: Counter[tuple[str, str]] = Counter()
        self.operations: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        where = collection if isinstance(collection, str) else ""
        listed = BATCHED.get(event.command_name)
        self.trips[(event.command_name, where)] += 1
        self.operations[(event.command_name, where)] += (
            len(event.command.get(listed) or [1]) if listed else 1
        )

    def clear(self) -> None:
        self.trips.clear()
        self.operations.clear()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def run(redis_url: str, mongo_url: str, orders: int, fleet: int, listener: Counting) -> None:
    connections = ConnectionSettings(
        redis_url=redis_url, mongo_url=mongo_url, mongo_db=f"bench_{uuid.uuid4().hex[:8]}"
    )
    secrets = Secrets(operator_api_key="o" * 24, tracking_secret="t" * 24)
    no_failures = {"payment_decline_rate": 0, "kitchen_reject_rate": 0, "courier_fail_rate": 0}
    services = [
        # All orders are placed at once: admission control would refuse most of them.
        build_orders(
            OrdersSettings(admission_max_backlog=0, admission_max_in_flight=0),
            connections,
            None,
            secrets,
        ),
        build_delivery(DeliverySettings(courier_fleet_size=fleet), connections, None, secrets),
        build_notifications(None, connections, None, secrets),
        build_actors(ActorSettings.benchmark(**no_failures), connections, None, secrets),
    ]
    async with running(*services) as (client, _, tracking, _):
        listener.clear()
        menu = [item["id"] for item in (await client.get("/api/menu")).json()]
        customer = {"name": "B", "address": "1 Bench St", "phone": "+1 555 0100"}
        bodies = [
            {"customer": customer, "items": [{"item_id": menu[n % len(menu)], "quantity": 1}]}
            for n in range(orders)
        ]
        started = time.perf_counter()
        responses = await asyncio.gather(*(client.post("/api/orders", json=b) for b in bodies))
        assert all(r.status_code == 201 for r in responses), [r.text for r in responses][:3]
        placed = [r.json() for r in responses]
        for order in placed:
            while True:
                view = await tracking.get(
                    f"/api/tracking/{order['id']}",
                    headers={"Authorization": f"Bearer {order['tracking_token']}"},
                )
                if view.status_code == 200 and view.json()["status"] in ("delivered", "cancelled"):
                    break
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)  # let stock settlement and outbox cleanups finish
    print(f"{orders} orders in {elapsed:.1f}s ({orders / elapsed:.0f}/s end to end)")
    for label, counts in (("operations", listener.operations), ("round trips", listener.trips)):
        total = sum(counts.values())
        writes = sum(n for (name, _), n in counts.items() if name in WRITES)
        print(f"{label} per order: {total / orders:.1f}, of which writes: {writes / orders:.1f}")
    header = ("command", "collection", "ops/order", "trips/order", "ops/trip")
    print("  {:<14} {:<20} {:>9} {:>11} {:>8}".format(*header))
    for key, n in listener.operations.most_common():
        name, where = key
        trips = listener.trips[key]
        print(f"  {name:<14} {where:<20} {n / orders:9.2f} {trips / orders:11.2f} {n / trips:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--couriers", type=int, default=1000, help="courier fleet size")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    listener = Counting()
    monitoring.register(listener)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis = stack.enter_context(RedisServer(tmp / "redis"))
        mongo = stack.enter_context(EmbeddedMongo(tmp / "mongo"))
        asyncio.run(run(redis.url, mongo.url, args.orders, args.couriers, listener))


if __name__ == "__main__":
    main()
