"""Consuming `order.status_changed`: timeline and head under duplicates and reordering."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from notifications.store import TrackingStore
from saga_contracts.messages import CancelReason, OrderStatus, OrderStatusChanged
from sagakit.publisher import Publisher
from sagakit.testing.waiting import eventually
from sagakit.version_keys import version_key

from ..conftest import StartNotifications, new_order_id, status_event


async def stored_timeline(app: Any, order_id: str) -> dict[str, Any]:
    doc = await app.service.runtime.db["order_heads"].find_one({"_id": order_id})
    return dict(doc["timeline"]) if doc else {}


async def timeline_versions(app: Any, order_id: str) -> list[int]:
    """Every stored version, applied or waiting."""
    return sorted(int(key.removeprefix("v")) for key in await stored_timeline(app, order_id))


async def test_duplicates_and_early_versions_never_skip_or_rewind(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    v1, v2, v3, v4 = (status_event(order_id, v) for v in (1, 2, 3, 4))

    await app.publish(v1, v3, v4, v3)  # v3 and v4 early (v2 not yet), v3 twice

    async def early_ones_stored() -> bool:
        return await timeline_versions(app, order_id) == [1, 3, 4]

    await eventually(early_ones_stored, what="v1, v3, v4 stored")
    assert await app.head_version(order_id) == 1  # v3 waits for v2

    await app.publish(v2)
    await app.wait_head(order_id, 4)  # through v2, v3, v4 in one go
    head = await app.service.runtime.db["order_heads"].find_one({"_id": order_id})
    assert head is not None
    assert head["status"] == OrderStatus.READY.value
    updated_ms = head["updated_ms"]

    # A redelivered old version (same envelope) and a duplicate with a new id change nothing.
    await app.publish(v2, status_event(order_id, 1))
    marker = new_order_id()
    await app.publish(status_event(marker, 1))  # consumed after the duplicates (one stream)
    await app.wait_head(marker, 1)
    head = await app.service.runtime.db["order_heads"].find_one({"_id": order_id})
    assert head is not None
    assert (head["version"], head["updated_ms"]) == (4, updated_ms)
    assert await timeline_versions(app, order_id) == [1, 2, 3, 4]


async def test_cancel_reason_is_kept_on_head_and_timeline(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications()
    order_id = new_order_id()
    await app.publish(
        status_event(order_id, 1),
        status_event(order_id, 2, OrderStatus.CANCELLED, CancelReason.PAYMENT_DECLINED),
    )
    await app.wait_head(order_id, 2)
    head = await app.service.runtime.db["order_heads"].find_one({"_id": order_id})
    assert head is not None
    assert (head["status"], head["reason"]) == ("cancelled", "payment_declined")
    first = (await stored_timeline(app, order_id)).get(version_key(1))
    assert first is not None
    assert "reason" not in first  # never a null reason


async def test_racing_replicas_apply_each_version_exactly_once(
    mongo_db: AsyncDatabase[dict[str, Any]], publisher: Publisher
) -> None:
    """Two replicas record the same shuffled, duplicated versions concurrently: the head ends
    at the last one, and every version is reported as newly applied (so fanned out) once."""
    stores = [TrackingStore(mongo_db["order_heads"], publisher) for _ in range(2)]
    await stores[0].ensure_indexes()
    order_id = new_order_id()
    versions = [*range(1, 8), 3, 5, 7, 1]
    random.Random(7).shuffle(versions)

    async def record(index: int, version: int) -> list[int]:
        event = OrderStatusChanged.from_envelope(status_event(order_id, version))
        return [e.version for e in await stores[index % 2].record(event)]

    applied = await asyncio.gather(*(record(i, v) for i, v in enumerate(versions)))
    assert sorted(v for run in applied for v in run) == list(range(1, 8))
    assert all(run == sorted(run) for run in applied)
    head = await stores[1].head(order_id)
    assert head is not None
    assert (head.version, head.status) == (7, "delivered")
