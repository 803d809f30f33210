"""Watching the deliveries during a run for a courier on two orders at once.

Why a watch during the run rather than a check afterwards: nothing stored records when a
courier's order started and ended on one clock (a delivery keeps only its last update, a
courier only its current order), and the streams' order is no witness either: the outbox
relay may publish an assignment's `courier.dispatch` after the dispatch of that courier's
next order (a crash leaves it to the sweeper), so dispatches out of order prove nothing.

What is sound: a delivery is on the road (assigned or picked up) for one contiguous stretch
and its courier never changes once assigned (waiting -> assigned -> picked_up -> ended; no
way back). So if one read finds deliveries A and B on the road with courier C, and a second
read, started after the first ended, finds both still on the road with C, then each was on
the road with C from its first read to its second, and at the moment the later of the two
first reads happened both were: C served two orders at once. A correct fleet never shows
that; a pair seen only by the first read (one ended, the other started in between) is not
counted. Each sample is one such pair of reads.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

ON_THE_ROAD = ["assigned", "picked_up"]


@dataclass
class CourierWatch:
    db: AsyncDatabase[Any]
    interval_s: float = 0.2
    samples: int = 0
    seen_on_the_road: int = 0  # deliveries on the road, summed over samples
    double_bookings: list[tuple[str, list[str]]] = field(default_factory=list)

    async def on_the_road(self, order_ids: Collection[str] | None = None) -> dict[str, str]:
        """{order id: courier id} of the deliveries on the road (among `order_ids`)."""
        query: dict[str, Any] = {"status": {"$in": ON_THE_ROAD}}
        if order_ids is not None:
            query["_id"] = {"$in": list(order_ids)}
        cursor = self.db.deliveries.find(query, {"courier_id": 1})
        return {doc["_id"]: doc["courier_id"] async for doc in cursor}

    async def sample(self) -> None:
        first = await self.on_the_road()
        self.samples += 1
        self.seen_on_the_road += len(first)
        by_courier: dict[str, list[str]] = defaultdict(list)
        for order_id, courier in first.items():
            by_courier[courier].append(order_id)
        suspects = {c: orders for c, orders in by_courier.items() if len(orders) > 1}
        if not suspects:
            return
        again = await self.on_the_road([o for orders in suspects.values() for o in orders])
        for courier, orders in suspects.items():
            still = sorted(o for o in orders if again.get(o) == courier)
            if len(still) > 1:
                self.double_bookings.append((courier, still))

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval_s)
