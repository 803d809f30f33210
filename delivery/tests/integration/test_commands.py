"""How many MongoDB commands a delivery costs. The whole system's orders/s is bound by commands
per order, so the common path is pinned here: a new command on it fails a test.

The handlers are driven directly (no stream worker, no background passes) against a client
of their own whose every command is counted; the outbox cleanup delay is long, so removing
published entries rides on the next write of the delivery as it does under load.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from redis.asyncio import Redis

from delivery.assignment import Assigner
from delivery.flow import DeliveryFlow
from delivery.handlers import DeliveryHandlers
from delivery.store import Deliveries, Fleet
from saga_contracts.messages import (
    CourierDelivered,
    CourierPickedUp,
    RequestDelivery,
)
from saga_contracts.topology import Streams
from sagakit.connections import mongo_client
from sagakit.envelope import Message
from sagakit.publisher import Publisher
from sagakit.replies import entries
from sagakit.routing import Delivery as Received
from sagakit.testing.waiting import eventually

if TYPE_CHECKING:  # fixtures come from conftest.py; test modules cannot import it
    from conftest import Db

Commands = Counter[tuple[str, str]]
INSERT = ("insert", "deliveries")
WRITE = ("findAndModify", "deliveries")
READ = ("find", "deliveries")
CLAIM = ("findAndModify", "couriers")
COUNT_IDLE = ("find", "couriers")  # a bounded find, not an aggregation
RELEASE = ("update", "couriers")


class CountingListener(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: Commands = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.seen[(event.command_name, target if isinstance(target, str) else "")] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> Commands:
        seen, self.seen = self.seen, Counter()
        return seen


@dataclass
class Replica:
    """One delivery process's handlers, on a client whose commands are counted."""

    handlers: DeliveryHandlers
    assigner: Assigner
    deliveries: Deliveries
    commands: CountingListener

    async def handle(self, message: Message, key: str) -> None:
        envelope = message.envelope(key=key, version=1)
        received = Received("stream", "1-0", envelope, envelope.to_fields())
        match message:
            case RequestDelivery():
                await self.handlers.on_request(message, received)
            case CourierPickedUp():
                await self.handlers.on_picked_up(message, received)
            case CourierDelivered():
                await self.handlers.on_delivered(message, received)


Start = Callable[[int], Awaitable[list[Replica]]]


@pytest.fixture
async def start_replicas(
    mongo_url: str, mongo_db: Db, publisher: Publisher, namespace: str
) -> AsyncIterator[Start]:
    """`await start_replicas(fleet)`: two replicas on one database, past their start-up pass."""
    streams = Streams(f"{namespace}.")
    clients: list[AsyncMongoClient[dict[str, Any]]] = []
    made: list[Replica] = []

    async def start(fleet: int) -> list[Replica]:
        await Fleet(mongo_db.couriers).ensure_indexes()
        await Fleet(mongo_db.couriers).seed(fleet)
        for _ in range(2):
            listener = CountingListener()
            client = mongo_client(mongo_url, event_listeners=[listener])
            clients.append(client)
            db = client[mongo_db.name]
            deliveries = Deliveries(db.deliveries, publisher, cleanup_delay_s=3600)
            await deliveries.ensure_indexes()
            fleet_ = Fleet(db.couriers)
            flow = DeliveryFlow(deliveries, fleet_, streams)
            assigner = Assigner(deliveries, fleet_, flow, interval_s=3600)  # never started
            await assigner.assign_waiting()  # the pass at start-up: nobody waits
            listener.take()
            handlers = DeliveryHandlers(deliveries, flow, assigner, no_courier_timeout_s=30)
            made.append(Replica(handlers, assigner, deliveries, listener))
        return made

    yield start
    for replica in made:
        await replica.deliveries.sweep_outbox(3600)  # writes pending cleanups, stops the timer
    for client in clients:
        await client.close()


async def test_one_delivery_costs_six_commands(start_replicas: Start, mongo_db: Db) -> None:
    one, _ = await start_replicas(3)

    await one.handle(RequestDelivery(order_id="o1", address="1 Main St"), "o1")
    assert one.commands.take() == {INSERT: 1, CLAIM: 1, WRITE: 1}
    doc = await mongo_db.deliveries.find_one({"_id": "o1"})
    assert doc is not None
    courier = doc["courier_id"]

    await one.handle(CourierPickedUp(order_id="o1", courier_id=courier), "o1")
    assert one.commands.take() == {WRITE: 1}  # decided on the version it wrote: no read
    await one.handle(CourierDelivered(order_id="o1", courier_id=courier), "o1")
    assert one.commands.take() == {WRITE: 1, RELEASE: 1}

    doc = await mongo_db.deliveries.find_one({"_id": "o1"})
    assert doc is not None
    assert (doc["status"], doc["version"], doc["courier_id"]) == ("delivered", 4, courier)
    assert (await mongo_db.couriers.find_one({"_id": courier}) or {})["status"] == "idle"
    # Nobody waits for a courier, so the release asks for no assignment pass.
    assert not one.assigner.shortage.possible


async def test_a_stale_known_version_costs_a_retry_never_a_wrong_transition(
    start_replicas: Start, mongo_db: Db, redis: Redis, namespace: str
) -> None:
    one, other = await start_replicas(2)
    await one.handle(RequestDelivery(order_id="o1", address="1 Main St"), "o1")
    courier = (await mongo_db.deliveries.find_one({"_id": "o1"}) or {})["courier_id"]
    one.commands.take()

    # The pick-up report goes to the other replica, which has never seen o1: it reads it.
    await other.handle(CourierPickedUp(order_id="o1", courier_id=courier), "o1")
    assert other.commands.take() == {READ: 1, WRITE: 1}
    # The first replica still knows o1 as assigned: its write misses, it reads and decides again.
    await one.handle(CourierDelivered(order_id="o1", courier_id=courier), "o1")
    assert one.commands.take() == {WRITE: 2, READ: 1, RELEASE: 1}

    doc = await mongo_db.deliveries.find_one({"_id": "o1"})
    assert doc is not None
    assert (doc["status"], doc["version"]) == ("delivered", 4)
    published = entries(await redis.xrange(Streams(f"{namespace}.").delivery_events))
    # Publishing is at least once (a replica republishes outbox entries another one has not
    # cleaned up yet): each event counts once, by its id.
    events = [f["type"] for f in {f["id"]: f for _, f in published}.values()]
    # Delivered from picked_up: no second picked_up, as one decided on assigned would emit.
    assert events == ["delivery.courier_assigned", "delivery.picked_up", "delivery.delivered"]


async def test_the_database_is_asked_about_older_deliveries_only_once_couriers_ran_out(
    start_replicas: Start, mongo_db: Db
) -> None:
    one, _ = await start_replicas(1)
    await one.handle(RequestDelivery(order_id="first", address="1 Main St"), "first")
    assert one.commands.take() == {INSERT: 1, CLAIM: 1, WRITE: 1}

    await one.handle(RequestDelivery(order_id="second", address="2 Main St"), "second")
    assert one.commands.take() == {INSERT: 1, CLAIM: 1}  # no courier free: it waits
    assert one.assigner.shortage.possible

    await one.handle(RequestDelivery(order_id="third", address="3 Main St"), "third")
    assert one.commands.take() == {INSERT: 1, READ: 1}  # "second" is older: it goes first
    statuses = {d["_id"]: d["status"] async for d in mongo_db.deliveries.find({})}
    assert statuses == {"first": "assigned", "second": "waiting", "third": "waiting"}

    # The courier comes back: a pass serves "second" (created here, its one attempt claimed
    # nothing, so there is no courier a crashed attempt may have left on it to look for).
    await one.handle(CourierDelivered(order_id="first", courier_id="courier-01"), "first")
    assert one.commands.take() == {WRITE: 1, RELEASE: 1}
    assert await one.assigner.assign_waiting() == 1
    assert one.commands.take() == {COUNT_IDLE: 1, READ: 1, CLAIM: 1, WRITE: 1}
    statuses = {d["_id"]: d["status"] async for d in mongo_db.deliveries.find({})}
    assert statuses == {"first": "delivered", "second": "assigned", "third": "waiting"}


async def test_a_courier_freed_at_one_replica_serves_a_delivery_waiting_at_another(
    start_replicas: Start, mongo_db: Db
) -> None:
    """The replica that frees a courier may never have seen the shortage (another replica's
    claim failed): its release must still start a pass, or the delivery waits for a periodic
    pass, or its deadline (found by the multi-replica system test)."""
    one, other = await start_replicas(1)
    await one.assigner.start()  # periodic passes an hour apart: only pokes serve in time
    await other.assigner.start()
    try:
        await one.handle(RequestDelivery(order_id="first", address="1 Main St"), "first")
        await one.handle(RequestDelivery(order_id="second", address="2 Main St"), "second")
        assert one.assigner.shortage.possible
        assert not other.assigner.shortage.possible  # its start-up pass found nobody waiting

        await other.handle(CourierDelivered(order_id="first", courier_id="courier-01"), "first")

        async def second_assigned() -> bool:
            doc = await mongo_db.deliveries.find_one({"_id": "second"})
            return doc is not None and doc["status"] == "assigned"

        await eventually(second_assigned, what="the freed courier given to 'second'")
    finally:
        await one.assigner.stop()
        await other.assigner.stop()
