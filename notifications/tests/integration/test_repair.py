"""A status lost on the way (Redis lost it) is asked for again and the view catches up."""

from __future__ import annotations

from typing import Any

from saga_contracts.messages import RepublishStatuses
from sagakit.envelope import Envelope
from sagakit.replies import entries
from sagakit.testing.waiting import eventually

from ..conftest import (
    HAPPY_PATH,
    Notifications,
    StartNotifications,
    new_order_id,
    status_event,
)

FAST_REPAIR: dict[str, Any] = {
    "reconcile_interval_s": 0.1,
    "reconcile_waiting_s": 0.2,
    "reconcile_stale_s": 0.5,
    "reconcile_repeat_s": 60.0,
}


async def questions(app: Notifications, order_id: str) -> list[int]:
    """The `after_version` of every republish request about the order, in order."""
    redis = app.service.runtime.redis
    found = entries(await redis.xrange(app.streams.orders_commands))
    asks = [Envelope.from_fields(f) for _, f in found if f and f.get("key") == order_id]
    return [
        RepublishStatuses.model_validate(e.payload).after_version
        for e in asks
        if e.type == RepublishStatuses.message_type
    ]


async def head_doc(app: Notifications, order_id: str) -> dict[str, Any]:
    doc = await app.service.runtime.db["order_heads"].find_one({"_id": order_id})
    assert doc is not None
    return doc


async def test_a_lost_middle_version_is_asked_for_and_the_head_reaches_the_last(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications(**FAST_REPAIR)
    oid = new_order_id()
    await app.publish(status_event(oid, 1), status_event(oid, 2), status_event(oid, 4))

    async def marked_waiting() -> bool:
        doc = await app.service.runtime.db["order_heads"].find_one({"_id": oid})
        return doc is not None and "waiting_since_ms" in doc

    await eventually(marked_waiting, what="v4 stored and waiting")
    assert await app.head_version(oid) == 2

    async def asked() -> bool:
        return await questions(app, oid) == [2]

    await eventually(asked, what="the reconciler to ask for the versions after v2")
    # What orders answers: every recorded version after the one asked, v4 a second time.
    await app.publish(status_event(oid, 3), status_event(oid, 4))
    await app.wait_head(oid, 4)

    async def unmarked() -> bool:
        return "waiting_since_ms" not in await head_doc(app, oid)

    await eventually(unmarked, what="the waiting mark to be removed")
    doc = await head_doc(app, oid)
    assert doc["status"] == HAPPY_PATH[3].value and "repair_asked_ms" in doc
    assert await questions(app, oid) == [2]  # not asked again within reconcile_repeat_s


async def test_a_lost_last_version_is_asked_for_and_the_terminal_status_appears(
    start_notifications: StartNotifications,
) -> None:
    app = await start_notifications(**FAST_REPAIR)
    oid, done = new_order_id(), new_order_id()
    await app.publish(*(status_event(oid, v) for v in range(1, 7)))
    await app.publish(*(status_event(done, v) for v in range(1, 8)))
    await app.wait_head(oid, 6)
    await app.wait_head(done, 7)
    assert "waiting_since_ms" not in await head_doc(app, oid)

    async def asked() -> bool:
        return await questions(app, oid) == [6]

    await eventually(asked, what="the stale head to be asked about")
    await app.publish(status_event(oid, 7))
    await app.wait_head(oid, 7)
    assert (await head_doc(app, oid))["status"] == "delivered"
    assert await questions(app, done) == []  # a terminal head is never asked about
