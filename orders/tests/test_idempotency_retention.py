"""Idempotency-Key records do not pile up: the service forgets those past their retention."""

from __future__ import annotations

from sagakit.clock import now_ms
from sagakit.testing.waiting import eventually

from .conftest import StartOrders

HOUR_MS = 3600 * 1000


async def test_records_older_than_the_retention_are_forgotten(start_orders: StartOrders) -> None:
    app = await start_orders(idempotency_retention_s=24 * 3600, idempotency_cleanup_interval_s=0.05)
    keys = app.service.runtime.db.idempotency_keys
    now = now_ms()
    for key, age_ms in (("old", 25 * HOUR_MS), ("recent", 23 * HOUR_MS)):
        await keys.insert_one(
            {
                "_id": key,
                "body_hash": "h",
                "order_id": "f" * 32,
                "started_ms": now - age_ms,
                "response": "{}",
            }
        )

    async def old_forgotten() -> bool:
        return await keys.find_one({"_id": "old"}) is None

    await eventually(old_forgotten, what="the day-old record forgotten")
    assert await keys.find_one({"_id": "recent"}) is not None
