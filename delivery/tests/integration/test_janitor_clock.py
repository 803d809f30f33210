"""The fleet janitor on a node whose clock is ten minutes off: a courier claimed or freed a
moment ago by another process is left to it, one stranded for minutes is repaired."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from delivery.assignment import Assigner
from delivery.janitor import FleetJanitor
from delivery.store import Deliveries, Fleet, waiting_delivery
from saga_contracts.messages import RequestDelivery
from sagakit.clock import Clock, installed
from sagakit.publisher import Publisher
from sagakit.testing.clocks import TEN_MINUTES_MS, synced_clock

Db = AsyncDatabase[dict[str, Any]]
MINUTES_AGO = 120_000


class RecordingAssigner:
    def __init__(self) -> None:
        self.resumed: list[str] = []

    async def assign(self, doc: dict[str, Any]) -> None:
        self.resumed.append(doc["_id"])

    def poke(self) -> None:
        pass


async def seed_fleet(db: Db, writer: Clock) -> None:
    """Two couriers claimed a moment ago, two claimed minutes ago; of each pair one on a delivery
    still waiting for its assignment, one on a delivery that ended as long ago."""
    for age, label in ((0, "fresh"), (MINUTES_AGO, "old")):
        at = writer.now_ms() - age
        waiting, ended = f"{label}-waiting", f"{label}-ended"
        request = RequestDelivery(order_id=waiting, address="x").envelope(key=waiting, version=1)
        await db.deliveries.insert_many(
            [
                waiting_delivery(waiting, "x", now=at, deadline=at + 3_600_000, request=request),
                {"_id": ended, "status": "delivered", "courier_id": f"courier-{ended}",
                 "version": 4, "address": "x", "created_ms": at, "updated_ms": at},
            ]
        )  # fmt: skip
        await db.couriers.insert_many(
            [
                {"_id": f"courier-{order_id}", "name": order_id, "status": "busy",
                 "order_id": order_id, "claimed_ms": at, "version": 3}
                for order_id in (waiting, ended)
            ]
        )  # fmt: skip


@pytest.mark.parametrize(
    "skew_ms", [TEN_MINUTES_MS, -TEN_MINUTES_MS], ids=["10-min-ahead", "10-min-behind"]
)
async def test_a_janitor_whose_clock_is_off_touches_only_what_is_stranded(
    skew_ms: float, mongo_db: Db, redis: Redis
) -> None:
    await seed_fleet(mongo_db, await synced_clock(redis))
    deliveries = Deliveries(mongo_db.deliveries, Publisher(redis))
    fleet = Fleet(mongo_db.couriers)
    assigner = RecordingAssigner()
    janitor = FleetJanitor(deliveries, fleet, cast(Assigner, assigner), grace_s=60)
    with installed(await synced_clock(redis, skew_ms=skew_ms)):
        assert await janitor.reconcile() == 2
    assert assigner.resumed == ["old-waiting"]
    statuses = {c["_id"]: c["status"] async for c in mongo_db.couriers.find({})}
    assert statuses == {
        "courier-fresh-waiting": "busy",
        "courier-fresh-ended": "busy",
        "courier-old-waiting": "busy",  # resumed with it
        "courier-old-ended": "idle",
    }
