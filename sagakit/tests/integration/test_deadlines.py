"""Durable deadlines: stored with the state they guard, fired at least once, even across crashes."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from sagakit.clock import now_ms
from sagakit.deadlines import DEADLINE_AT, DeadlineScheduler
from sagakit.testing.waiting import eventually

Db = AsyncDatabase[dict[str, Any]]


async def test_a_due_deadline_fires_and_is_spent(mongo_db: Db) -> None:
    fired: list[str] = []

    async def on_due(doc: dict[str, Any]) -> None:
        fired.append(doc["_id"])

    past, future = now_ms() - 1000, now_ms() + 3_600_000
    await mongo_db.orders.insert_many(
        [
            {"_id": "due", DEADLINE_AT: past},
            {"_id": "later", DEADLINE_AT: future},
            {"_id": "none"},
        ]
    )
    scheduler = DeadlineScheduler(mongo_db.orders, on_due, poll_interval_s=0.02)
    await scheduler.ensure_indexes()
    await scheduler.start()
    try:
        await eventually(lambda: fired == ["due"], what="the due deadline to fire")

        async def spent() -> bool:
            doc = await mongo_db.orders.find_one({"_id": "due"})
            return doc is not None and DEADLINE_AT not in doc

        await eventually(spent, what="the fired deadline to be removed")
        await asyncio.sleep(0.2)
        assert fired == ["due"]  # fired once, the future one not at all
    finally:
        await scheduler.stop()


async def test_a_handler_that_moves_the_deadline_is_not_overridden(mongo_db: Db) -> None:
    moved_to = now_ms() + 3_600_000

    async def on_due(doc: dict[str, Any]) -> None:
        await mongo_db.orders.update_one(
            {"_id": doc["_id"], "status": "paid"},
            {"$set": {"status": "preparing", DEADLINE_AT: moved_to}},
        )

    await mongo_db.orders.insert_one({"_id": "o1", "status": "paid", DEADLINE_AT: now_ms() - 1000})
    scheduler = DeadlineScheduler(mongo_db.orders, on_due, poll_interval_s=0.02)
    assert await scheduler.fire_due() == 1
    await scheduler.stop()
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and doc["status"] == "preparing"
    assert doc[DEADLINE_AT] == moved_to


async def test_a_failing_handler_fires_again_until_it_succeeds(mongo_db: Db) -> None:
    attempts: list[int] = []

    async def on_due(doc: dict[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("payment gateway unreachable")

    await mongo_db.orders.insert_one({"_id": "o1", DEADLINE_AT: now_ms() - 1000})
    scheduler = DeadlineScheduler(mongo_db.orders, on_due, poll_interval_s=0.02)
    await scheduler.start()
    try:
        await eventually(lambda: len(attempts) >= 3, timeout_s=10, what="three attempts")

        async def spent() -> bool:
            doc = await mongo_db.orders.find_one({"_id": "o1"})
            return doc is not None and DEADLINE_AT not in doc

        await eventually(spent, what="the deadline to be spent after success")
    finally:
        await scheduler.stop()
    assert len(attempts) == 3


async def test_a_crash_while_firing_leaves_the_deadline_to_fire_again(mongo_db: Db) -> None:
    """The reference system removed a timer before running it and lost it on a crash."""
    started = asyncio.Event()

    async def hangs(doc: dict[str, Any]) -> None:
        started.set()
        await asyncio.Event().wait()

    await mongo_db.orders.insert_one({"_id": "o1", DEADLINE_AT: now_ms() - 1000})
    crashing = DeadlineScheduler(mongo_db.orders, hangs, poll_interval_s=0.02)
    await crashing.start()
    await asyncio.wait_for(started.wait(), 5)
    await crashing.stop(timeout_s=0.05)  # the process dies mid-handler

    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and DEADLINE_AT in doc

    fired: list[str] = []

    async def on_due(doc: dict[str, Any]) -> None:
        fired.append(doc["_id"])

    restarted = DeadlineScheduler(mongo_db.orders, on_due, poll_interval_s=0.02)
    await restarted.start()
    try:
        await eventually(lambda: fired == ["o1"], what="the deadline to fire after restart")
    finally:
        await restarted.stop()


async def test_two_replicas_may_both_fire_but_a_guarded_effect_applies_once(mongo_db: Db) -> None:
    async def cancel_once(doc: dict[str, Any]) -> None:
        await mongo_db.orders.update_one(
            {"_id": doc["_id"], "status": "placed"},
            {"$set": {"status": "cancelled"}, "$inc": {"version": 1}, "$unset": {DEADLINE_AT: ""}},
        )

    await mongo_db.orders.insert_many(
        [
            {"_id": f"o{i}", "status": "placed", "version": 1, DEADLINE_AT: now_ms() - 1000}
            for i in range(30)
        ]
    )
    replicas = [
        DeadlineScheduler(mongo_db.orders, cancel_once, poll_interval_s=0.01) for _ in range(2)
    ]
    for replica in replicas:
        await replica.start()
    try:

        async def all_cancelled() -> bool:
            return await mongo_db.orders.count_documents({"status": "cancelled"}) == 30

        await eventually(all_cancelled, what="every order cancelled")
    finally:
        for replica in replicas:
            await replica.stop()
    assert await mongo_db.orders.count_documents({"version": 2}) == 30


async def always_failing(doc: dict[str, Any]) -> None:
    raise RuntimeError("payment gateway unreachable")


async def test_a_failed_document_that_stopped_being_due_is_forgotten(mongo_db: Db) -> None:
    await mongo_db.orders.insert_one({"_id": "o1", DEADLINE_AT: now_ms() - 1000})
    scheduler = DeadlineScheduler(mongo_db.orders, always_failing)
    assert await scheduler.fire_due() == 1
    await scheduler.stop()  # waits for the failed attempt
    assert scheduler.retrying == 1
    # another replica handled it meanwhile and moved its deadline
    await mongo_db.orders.update_one({"_id": "o1"}, {"$set": {DEADLINE_AT: now_ms() + 3_600_000}})
    assert await scheduler.fire_due() == 0
    assert scheduler.retrying == 0


async def test_the_documents_waiting_to_fire_again_are_capped(mongo_db: Db) -> None:
    await mongo_db.orders.insert_many(
        [{"_id": f"o{i}", DEADLINE_AT: now_ms() - 1000} for i in range(5)]
    )
    scheduler = DeadlineScheduler(mongo_db.orders, always_failing, batch=5, max_retrying=3)
    assert await scheduler.fire_due() == 5  # a full batch: nothing is known not to be due
    await scheduler.stop()
    assert scheduler.retrying == 3


class CountingScheduler(DeadlineScheduler):
    polls = 0

    async def fire_due(self) -> int:
        self.polls += 1
        return await super().fire_due()


async def test_an_idle_scheduler_polls_seldom_yet_fires_what_comes_due(mongo_db: Db) -> None:
    """With nothing due, polls come `idle_poll_s` apart instead of every `poll_interval_s`;
    a deadline written ahead of time is still seen coming and fired."""
    fired: list[str] = []

    async def on_due(doc: dict[str, Any]) -> None:
        fired.append(doc["_id"])

    scheduler = CountingScheduler(mongo_db.orders, on_due, poll_interval_s=0.02, idle_poll_s=0.5)
    await scheduler.ensure_indexes()
    await scheduler.start()
    try:
        await asyncio.sleep(1.0)  # 50 polls at poll_interval_s; about 2 at idle_poll_s
        assert scheduler.polls <= 10
        await mongo_db.orders.insert_one({"_id": "soon", DEADLINE_AT: now_ms() + 700})
        await eventually(lambda: fired == ["soon"], what="the deadline to fire")
    finally:
        await scheduler.stop()
