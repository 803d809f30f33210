"""The persistence rule: one guarded write per state change, its events relayed from the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from sagakit.connections import mongo_client
from sagakit.envelope import Envelope, Message
from sagakit.outbox import OUTBOX_SINCE, DocumentStore, Emit, Transition
from sagakit.publisher import Publisher
from sagakit.replies import entries
from sagakit.testing.waiting import eventually

Db = AsyncDatabase[dict[str, Any]]


class StatusChanged(Message):
    message_type = "order.status_changed"
    status: str


class StalledPublisher(Publisher):
    """A process that dies after its document write, before XADD: the publish never happens."""

    async def publish_many_raw(
        self, messages: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[str]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class DownPublisher(Publisher):
    async def publish_many_raw(
        self, messages: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[str]:
        raise ConnectionError("redis is down")


def status_event(stream: str, order_id: str, status: str, version: int) -> Emit:
    return Emit(stream, StatusChanged(status=status).envelope(key=order_id, version=version))


async def published(redis: Redis, stream: str) -> list[Envelope]:
    return [Envelope.from_fields(f) for _, f in entries(await redis.xrange(stream))]


def pay(stream: str, order_id: str, *, consumed: str, version: int = 1) -> Transition:
    return Transition(
        expect={"status": "placed", "version": version},
        set={"status": "paid"},
        inc={"version": 1},
        emit=[status_event(stream, order_id, "paid", version + 1)],
        consumed=consumed,
    )


async def test_transition_writes_once_and_publishes_its_event(
    mongo_db: Db, redis: Redis, publisher: Publisher, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    store = DocumentStore(mongo_db.orders, publisher)
    await store.ensure_indexes()
    assert await store.insert(
        {"_id": "o1", "status": "placed", "version": 1},
        emit=[status_event(stream, "o1", "placed", 1)],
    )

    after = await store.apply("o1", pay(stream, "o1", consumed="m1"))
    assert after is not None
    assert (after["status"], after["version"], after["consumed"]) == ("paid", 2, {"m1": True})

    # the same message again changes nothing and emits nothing
    assert await store.apply("o1", pay(stream, "o1", consumed="m1")) is None
    await store.relay.drain()

    events = await published(redis, stream)
    assert [(e.payload["status"], e.version) for e in events] == [("placed", 1), ("paid", 2)]
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None
    assert doc.get("outbox") in ({}, None)
    assert OUTBOX_SINCE not in doc


async def test_guard_on_status_and_version_rejects_a_stale_transition(
    mongo_db: Db, publisher: Publisher, namespace: str
) -> None:
    store = DocumentStore(mongo_db.orders, publisher)
    await store.insert({"_id": "o1", "status": "paid", "version": 2})
    assert await store.apply("o1", pay(f"{namespace}.s", "o1", consumed="m1")) is None
    assert await store.apply("o1", pay(f"{namespace}.s", "o1", consumed="m2", version=2)) is None
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and (doc["status"], doc["version"]) == ("paid", 2)


async def test_concurrent_transitions_with_one_guard_apply_once(
    mongo_db: Db, redis: Redis, publisher: Publisher, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    store = DocumentStore(mongo_db.orders, publisher)
    await store.insert({"_id": "o1", "status": "placed", "version": 1})
    results = await asyncio.gather(
        *(store.apply("o1", pay(stream, "o1", consumed=f"m{i}")) for i in range(10))
    )
    assert sum(r is not None for r in results) == 1
    await store.relay.drain()
    assert len(await published(redis, stream)) == 1


async def test_crash_between_write_and_publish_is_repaired_by_the_sweeper(
    mongo_db: Db, redis: Redis, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    dying = DocumentStore(mongo_db.orders, StalledPublisher(redis))
    await dying.ensure_indexes()
    await mongo_db.orders.insert_one({"_id": "o1", "status": "placed", "version": 1})
    write = asyncio.create_task(dying.apply("o1", pay(stream, "o1", consumed="m1")))

    async def written() -> bool:
        return await mongo_db.orders.count_documents({"_id": "o1", "status": "paid"}) == 1

    for _ in range(200):
        if await written():
            break
        await asyncio.sleep(0.01)
    write.cancel()  # the process dies here: the state changed, the event was never published
    with pytest.raises(asyncio.CancelledError):
        await write
    assert await published(redis, stream) == []

    restarted = DocumentStore(mongo_db.orders, Publisher(redis))
    assert await restarted.relay.sweep(older_than=timedelta(seconds=10)) == 0  # not yet stale
    assert await restarted.relay.sweep(older_than=timedelta(0)) == 1
    events = await published(redis, stream)
    assert [(e.payload["status"], e.version) for e in events] == [("paid", 2)]
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and doc["outbox"] == {} and OUTBOX_SINCE not in doc
    assert await restarted.relay.sweep(older_than=timedelta(0)) == 0  # nothing left behind


async def test_events_left_by_a_failed_publish_go_out_with_the_next_write(
    mongo_db: Db, redis: Redis, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    await mongo_db.orders.insert_one({"_id": "o1", "status": "placed", "version": 1})
    down = DocumentStore(mongo_db.orders, DownPublisher(redis))
    assert await down.apply("o1", pay(stream, "o1", consumed="m1")) is not None

    up = DocumentStore(mongo_db.orders, Publisher(redis))
    ship = Transition(
        expect={"status": "paid", "version": 2},
        set={"status": "preparing"},
        inc={"version": 1},
        emit=[status_event(stream, "o1", "preparing", 3)],
        consumed="m2",
    )
    assert await up.apply("o1", ship) is not None
    await up.relay.drain()
    events = await published(redis, stream)
    assert [(e.payload["status"], e.version) for e in events] == [("paid", 2), ("preparing", 3)]
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and doc["outbox"] == {} and OUTBOX_SINCE not in doc


async def test_cleanup_of_an_older_relay_keeps_the_marker_of_newer_events(
    mongo_db: Db, redis: Redis, namespace: str
) -> None:
    """A slow relay must not clear `outbox_since` while newer, unpublished events exist."""
    stream = f"{namespace}.orders.events"
    await mongo_db.orders.insert_one({"_id": "o1", "status": "placed", "version": 1})
    store = DocumentStore(mongo_db.orders, Publisher(redis))
    first = await mongo_db.orders.find_one_and_update(
        pay(stream, "o1", consumed="m1").filter("o1"),
        pay(stream, "o1", consumed="m1").update(),
        return_document=True,
    )
    assert first is not None
    dead = DocumentStore(mongo_db.orders, DownPublisher(redis))
    second = Transition(
        expect={"status": "paid"},
        set={"status": "preparing"},
        inc={"version": 1},
        emit=[status_event(stream, "o1", "preparing", 3)],
    )
    assert await dead.apply("o1", second) is not None  # its publish failed
    assert await store.relay.relay(first)  # the slow relay of the first write finishes now
    await store.relay.drain()
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None
    assert len(doc["outbox"]) == 1 and OUTBOX_SINCE in doc
    assert await store.relay.sweep(older_than=timedelta(0)) == 1
    assert [e.payload["status"] for e in await published(redis, stream)] == ["paid", "preparing"]


async def test_insert_is_idempotent(mongo_db: Db, redis: Redis, namespace: str) -> None:
    stream = f"{namespace}.orders.events"
    store = DocumentStore(mongo_db.orders, Publisher(redis))
    doc = {"_id": "o1", "status": "placed", "version": 1}
    assert await store.insert(doc, emit=[status_event(stream, "o1", "placed", 1)])
    assert not await store.insert(doc, emit=[status_event(stream, "o1", "placed", 1)])
    await store.relay.drain()
    assert len(await published(redis, stream)) == 1


async def test_the_next_write_removes_what_the_previous_one_published(
    mongo_db: Db, redis: Redis, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    store = DocumentStore(mongo_db.orders, Publisher(redis), cleanup_delay_s=60)
    await store.insert(
        {"_id": "o1", "status": "placed", "version": 1},
        emit=[status_event(stream, "o1", "placed", 1)],
    )
    first = await store.apply("o1", pay(stream, "o1", consumed="m1"))
    assert first is not None
    assert [e["fields"]["version"] for e in first["outbox"].values()] == ["2"]  # v1 removed
    ship = Transition(
        expect={"status": "paid", "version": 2},
        set={"status": "preparing"},
        inc={"version": 1},
        emit=[status_event(stream, "o1", "preparing", 3)],
    )
    second = await store.apply("o1", ship)
    assert second is not None
    assert [e["fields"]["version"] for e in second["outbox"].values()] == ["3"]
    assert OUTBOX_SINCE in second  # the last event awaits the batched cleanup
    await store.relay.drain()
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and doc["outbox"] == {} and OUTBOX_SINCE not in doc
    events = await published(redis, stream)
    assert [e.version for e in events] == [1, 2, 3]  # each published exactly once


async def test_a_missed_guard_gives_the_cleanup_back(
    mongo_db: Db, redis: Redis, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    store = DocumentStore(mongo_db.orders, Publisher(redis), cleanup_delay_s=60)
    await store.insert(
        {"_id": "o1", "status": "placed", "version": 1},
        emit=[status_event(stream, "o1", "placed", 1)],
    )
    assert await store.apply("o1", pay(stream, "o1", consumed="m1", version=7)) is None
    await store.relay.drain()
    doc = await mongo_db.orders.find_one({"_id": "o1"})
    assert doc is not None and doc["outbox"] == {} and OUTBOX_SINCE not in doc


class UpdateLog(monitoring.CommandListener):
    """The single-document updates of each `update` command sent to one collection."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.batches: list[list[Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update" and event.command["update"] == self.collection:
            self.batches.append([u["q"]["_id"] for u in event.command["updates"]])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextlib.asynccontextmanager
async def database_logging_updates(
    mongo_url: str, collection: str
) -> AsyncIterator[tuple[Db, UpdateLog]]:
    """A fresh database on a client of its own that logs the `update` commands sent to
    `collection`; dropped afterwards."""
    updates = UpdateLog(collection)
    client = mongo_client(mongo_url, event_listeners=[updates])
    db = client[f"t_{uuid.uuid4().hex[:12]}"]
    try:
        yield db, updates
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_cleanup_is_one_write_per_document_in_shared_round_trips(
    mongo_url: str, redis: Redis, namespace: str
) -> None:
    stream = f"{namespace}.orders.events"
    async with database_logging_updates(mongo_url, "orders") as (db, updates):
        store = DocumentStore(db.orders, Publisher(redis), cleanup_delay_s=60)
        ids = [f"o{n}" for n in range(20)]
        for order_id in ids:
            events = [status_event(stream, order_id, "placed", 1)]
            assert await store.insert({"_id": order_id, "status": "placed", "version": 1}, events)
        await store.relay.drain()
        assert sorted(i for batch in updates.batches for i in batch) == sorted(ids)  # one each
        assert len(updates.batches) <= 2  # the first alone, the others queued behind it
        async for doc in db.orders.find({}):
            assert doc["outbox"] == {} and OUTBOX_SINCE not in doc
        assert len(await published(redis, stream)) == 20


async def test_a_pending_removal_waits_for_a_write_of_its_document_under_way(
    mongo_url: str, redis: Redis, namespace: str
) -> None:
    """A write slower than the cleanup delay removes the entries itself: no removal of its
    own is written meanwhile, and the document ends clean after the delay."""
    stream = f"{namespace}.orders.events"
    async with database_logging_updates(mongo_url, "orders") as (db, updates):
        store = DocumentStore(db.orders, Publisher(redis), cleanup_delay_s=0.05)
        await store.insert(
            {"_id": "o1", "status": "placed", "version": 1},
            emit=[status_event(stream, "o1", "placed", 1)],
        )
        taken = store.relay.take_published("o1")  # a write of o1 starts...
        assert len(taken) == 1
        await asyncio.sleep(0.2)  # ...and outlasts the delay
        assert updates.batches == []  # nothing was written for o1 meanwhile
        store.relay.restore("o1", taken)  # the write did not happen after all
        await eventually(lambda: updates.batches != [], what="the removal, a delay later")
        assert updates.batches == [["o1"]]
        doc = await db.orders.find_one({"_id": "o1"})
        assert doc is not None and doc["outbox"] == {} and OUTBOX_SINCE not in doc


async def test_each_document_waits_its_own_delay_before_its_removal(
    mongo_url: str, redis: Redis, namespace: str
) -> None:
    """A busy collection does not flush every removal at once: a document written just now
    keeps its published entries for the next write to remove."""
    stream = f"{namespace}.orders.events"
    async with database_logging_updates(mongo_url, "orders") as (db, updates):
        store = DocumentStore(db.orders, Publisher(redis), cleanup_delay_s=2.0)
        for order_id in ("old", "new"):
            await store.insert(
                {"_id": order_id, "status": "placed", "version": 1},
                emit=[status_event(stream, order_id, "placed", 1)],
            )
            if order_id == "old":
                await asyncio.sleep(1.5)
        await eventually(lambda: updates.batches != [], what="the removal of the older one")
        assert [i for batch in updates.batches for i in batch] == ["old"]  # "new" is not due
        paid = await store.apply("new", pay(stream, "new", consumed="m1"))
        assert paid is not None  # the transition itself removed v1:
        assert [e["fields"]["version"] for e in paid["outbox"].values()] == ["2"]
        await store.relay.drain()
        assert [i for batch in updates.batches for i in batch] == ["old", "new"]  # v2's removal
        events = await published(redis, stream)
        assert sorted((e.key, e.version) for e in events) == [("new", 1), ("new", 2), ("old", 1)]


async def test_the_sweep_counts_only_what_it_published_again(
    mongo_db: Db, redis: Redis, namespace: str
) -> None:
    """An outbox entry published by this process, its removal not written yet, is left to
    that removal: the sweeper neither republishes nor counts it."""
    stream = f"{namespace}.orders.events"
    store = DocumentStore(mongo_db.orders, Publisher(redis), cleanup_delay_s=3600)
    await mongo_db.orders.insert_one({"_id": "o1", "status": "placed", "version": 1})
    assert await store.apply("o1", pay(stream, "o1", consumed="m1")) is not None
    swept_before = swept_metric("orders")

    assert await store.relay.sweep(older_than=timedelta(0)) == 0

    assert swept_metric("orders") == swept_before
    assert [e.payload["status"] for e in await published(redis, stream)] == ["paid"]


def swept_metric(collection: str) -> float:
    sample = REGISTRY.get_sample_value("sagakit_outbox_swept_total", {"collection": collection})
    return sample or 0.0
