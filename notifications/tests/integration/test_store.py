"""The order document's writes, counted: one command per in-order event, none for one already
applied, and the exact same outcome out of order, duplicated, on replicas with stale memories."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

from notifications.store import TrackingStore
from saga_contracts.messages import CancelReason, OrderStatus, OrderStatusChanged
from sagakit.connections import mongo_client
from sagakit.publisher import Publisher
from sagakit.version_keys import version_key

from ..conftest import HAPPY_PATH, new_order_id, status_event


class CommandLog(monitoring.CommandListener):
    """The commands sent to one database."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Replicas:
    """Stores sharing one collection, each with its own memory of heads, like replicas."""

    db: AsyncDatabase[dict[str, Any]]
    publisher: Publisher
    log: CommandLog
    stores: list[TrackingStore] = field(default_factory=list)

    def new(self) -> TrackingStore:
        self.stores.append(TrackingStore(self.db["order_heads"], self.publisher))
        return self.stores[-1]

    async def record(
        self, store: TrackingStore, order_id: str, version: int, status: OrderStatus | None = None
    ) -> tuple[list[int], list[str]]:
        """The versions newly applied, and the commands it took."""
        event = OrderStatusChanged.from_envelope(status_event(order_id, version, status))
        before = len(self.log.names)
        applied = await store.record(event)
        assert all(e.order_id == order_id for e in applied)
        return [e.version for e in applied], self.log.names[before:]

    async def document(self, order_id: str) -> dict[str, Any]:
        doc = await self.db["order_heads"].find_one({"_id": order_id})
        assert doc is not None
        return doc


@pytest_asyncio.fixture
async def replicas(
    mongo_url: str, mongo_db: AsyncDatabase[dict[str, Any]], publisher: Publisher
) -> AsyncIterator[Replicas]:
    log = CommandLog(mongo_db.name)
    client = mongo_client(mongo_url, event_listeners=[log])
    try:
        yield Replicas(client[mongo_db.name], publisher, log)
    finally:
        await client.close()


async def test_each_in_order_event_takes_one_command(replicas: Replicas) -> None:
    store = replicas.new()
    order_id = new_order_id()
    for version in range(1, 8):
        applied, commands = await replicas.record(store, order_id, version)
        assert applied == [version]
        assert commands == ["insert" if version == 1 else "findAndModify"]
    doc = await replicas.document(order_id)
    assert (doc["version"], doc["status"]) == (7, "delivered")
    assert sorted(doc["timeline"]) == [version_key(v) for v in range(1, 8)]

    # An event the head already passed: nothing to do, nothing sent to the database.
    assert await replicas.record(store, order_id, 3) == ([], [])
    assert await replicas.document(order_id) == doc


async def test_replicas_with_stale_memories_still_take_one_command(replicas: Replicas) -> None:
    first, second = replicas.new(), replicas.new()
    order_id = new_order_id()
    for version in (1, 2, 3):
        assert (await replicas.record(first, order_id, version))[0] == [version]
    # `second` never saw the order, `first` did not see v4: both presume the previous version.
    assert await replicas.record(second, order_id, 4) == ([4], ["findAndModify"])
    assert await replicas.record(first, order_id, 5) == ([5], ["findAndModify"])
    applied_before = await replicas.document(order_id)

    # A restarted replica (nothing remembered) given a duplicate: its guesses miss, it stores
    # nothing, moves nothing and learns the head.
    restarted = replicas.new()
    applied, commands = await replicas.record(restarted, order_id, 2)
    assert applied == []
    assert "insert" not in commands
    assert await replicas.document(order_id) == applied_before
    assert restarted.known.get(order_id) == 5
    assert await replicas.record(restarted, order_id, 6) == ([6], ["findAndModify"])


async def test_early_versions_wait_and_the_first_stored_is_kept(replicas: Replicas) -> None:
    store = replicas.new()
    order_id = new_order_id()
    assert (await replicas.record(store, order_id, 3))[0] == []
    stored_v3 = (await replicas.document(order_id))["timeline"][version_key(3)]
    assert (await replicas.record(store, order_id, 3))[0] == []  # a duplicate with another `at`
    assert (await replicas.record(store, order_id, 2))[0] == []

    # Nothing applied yet: invisible to customers and operators.
    assert (await replicas.document(order_id))["version"] == 0
    assert await store.tracked(order_id) is None
    assert await store.head(order_id) is None
    assert order_id not in [h.order_id for h in await store.recent(100)]
    assert (await store.outcomes())["total"] == 0

    assert (await replicas.record(store, order_id, 1))[0] == [1, 2, 3]
    doc = await replicas.document(order_id)
    assert doc["version"] == 3
    assert doc["timeline"][version_key(3)] == stored_v3
    assert await replicas.record(store, order_id, 4) == ([4], ["findAndModify"])

    tracked = await store.tracked(order_id, after=1)
    assert tracked is not None
    assert [e.version for e in tracked.timeline] == [2, 3, 4]
    assert tracked.timeline[1].at == stored_v3["at"]


async def test_a_run_left_waiting_by_a_crash_is_applied_on_redelivery(replicas: Replicas) -> None:
    """A replica stored v2 and v3 and died before moving the head: the redelivered event
    applies them, on any replica, keeping what was stored."""
    order_id = new_order_id()
    await replicas.record(replicas.new(), order_id, 1)
    left = {
        f"timeline.{version_key(v)}": {"status": HAPPY_PATH[v - 1].value, "at": f"stored v{v}"}
        for v in (2, 3)
    }
    await replicas.db["order_heads"].update_one({"_id": order_id}, {"$set": left})

    assert (await replicas.record(replicas.new(), order_id, 2))[0] == [2, 3]
    tracked = await replicas.stores[0].tracked(order_id)
    assert tracked is not None
    assert [(e.version, e.at) for e in tracked.timeline[1:]] == [(2, "stored v2"), (3, "stored v3")]


async def test_a_cancel_reason_is_kept_then_removed_with_the_next_status(
    replicas: Replicas,
) -> None:
    store = replicas.new()
    order_id = new_order_id()
    await replicas.record(store, order_id, 1)
    declined = OrderStatusChanged.from_envelope(
        status_event(order_id, 2, OrderStatus.CANCELLED, CancelReason.PAYMENT_DECLINED)
    )
    assert [e.reason for e in await store.record(declined)] == ["payment_declined"]
    head = await store.head(order_id)
    assert head is not None
    assert (head.status, head.reason) == ("cancelled", "payment_declined")
    assert (await replicas.record(store, order_id, 3))[0] == [3]
    doc = await replicas.document(order_id)
    assert "reason" not in doc  # removed with the next status, never stored as null
    assert "reason" not in doc["timeline"][version_key(1)]
    assert doc["timeline"][version_key(2)]["reason"] == "payment_declined"


async def test_shuffled_duplicated_versions_on_racing_replicas(replicas: Replicas) -> None:
    """Three replicas, several orders, every version shuffled and duplicated and recorded
    concurrently: each order ends at its last version, each version applied exactly once."""
    stores = [replicas.new() for _ in range(3)]
    rng = random.Random(11)
    orders = {new_order_id(): rng.randint(1, 7) for _ in range(6)}
    arrivals = [
        (order_id, version)
        for order_id, last in orders.items()
        for version in [*range(1, last + 1), *rng.choices(range(1, last + 1), k=3)]
    ]
    rng.shuffle(arrivals)

    async def record(index: int, order_id: str, version: int) -> tuple[str, list[int]]:
        return order_id, (await replicas.record(stores[index % 3], order_id, version))[0]

    runs = await asyncio.gather(*(record(i, *arrival) for i, arrival in enumerate(arrivals)))
    for order_id, last in orders.items():
        applied = [run for oid, run in runs if oid == order_id]
        assert sorted(v for run in applied for v in run) == list(range(1, last + 1))
        assert all(run == sorted(run) for run in applied)
        tracked = await stores[0].tracked(order_id)
        assert tracked is not None
        assert tracked.head.version == last
        assert [e.version for e in tracked.timeline] == list(range(1, last + 1))
