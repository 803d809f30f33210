"""The write coalescer against a real MongoDB: concurrent single-document writes share round
trips, and each caller still gets exactly the result of its own conditional write."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from sagakit.coalesce import MARKS, Updated, WriteCoalescer
from sagakit.connections import TRANSIENT_ERRORS, mongo_client
from sagakit.embedded.mongo import EmbeddedMongo

Doc = dict[str, Any]
Coll = AsyncCollection[Doc]


@dataclass
class Sent:
    name: str
    ids: list[Any]  # the documents a write command names (one per write), or a find's $in


@dataclass
class Commands(monitoring.CommandListener):
    """The commands sent to one collection, and how many were in flight at most."""

    collection: str
    sent: list[Sent] = field(default_factory=list)
    in_flight: set[int] = field(default_factory=set)
    most_in_flight: int = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) != self.collection:
            return
        command = event.command
        if event.command_name == "update":
            ids = [u["q"]["_id"] for u in command["updates"]]
        elif event.command_name == "insert":
            ids = [d["_id"] for d in command["documents"]]
        elif event.command_name in ("find", "findAndModify"):
            query = command.get("filter", command.get("query", {}))["_id"]
            ids = list(query["$in"]) if isinstance(query, dict) else [query]
        else:
            ids = []
        self.sent.append(Sent(event.command_name, ids))
        self.in_flight.add(event.request_id)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.in_flight.discard(event.request_id)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.in_flight.discard(event.request_id)

    def named(self, name: str) -> list[Sent]:
        return [s for s in self.sent if s.name == name]


@dataclass
class Setup:
    col: Coll
    commands: Commands


@pytest_asyncio.fixture
async def setup(mongo_url: str) -> AsyncIterator[Setup]:
    name = f"c{uuid.uuid4().hex[:10]}"
    commands = Commands(name)
    client = mongo_client(mongo_url, event_listeners=[commands])
    db = client[f"t_{uuid.uuid4().hex[:12]}"]
    try:
        yield Setup(db[name], commands)
    finally:
        await client.drop_database(db.name)
        await client.close()


def version_guarded(doc_id: str, version: int, **extra: Any) -> tuple[Doc, Doc]:
    """A transition guarded by the version, as the services write them."""
    return (
        {"_id": doc_id, "version": version},
        {"$inc": {"version": 1}, "$set": {"status": f"v{version + 1}", **extra}},
    )


async def seed(col: Coll, n: int, version: int = 1) -> list[str]:
    ids = [f"d{i:03d}" for i in range(n)]
    await col.insert_many([{"_id": i, "version": version, "status": "v1"} for i in ids])
    return ids


async def seeded(setup: Setup, n: int) -> list[str]:
    """`seed`, then forget its commands."""
    ids = await seed(setup.col, n)
    setup.commands.sent.clear()
    return ids


async def wait_for(condition: Any) -> None:
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_a_lone_write_is_the_plain_command(setup: Setup) -> None:
    coalescer = WriteCoalescer(setup.col)
    [doc_id] = await seeded(setup, 1)

    assert await coalescer.update(*version_guarded(doc_id, 1)) == Updated(True)
    assert await coalescer.update(*version_guarded(doc_id, 1)) == Updated(False)  # guard missed
    after = await coalescer.update(*version_guarded(doc_id, 2), fetch=True)
    assert after == Updated(True, {"_id": doc_id, "version": 3, "status": "v3"})
    await coalescer.insert({"_id": "new", "version": 1})
    with pytest.raises(DuplicateKeyError):
        await coalescer.insert({"_id": "new", "version": 2})

    assert [(s.name, s.ids) for s in setup.commands.sent] == [
        ("update", [doc_id]),
        ("update", [doc_id]),
        ("findAndModify", [doc_id]),
        ("insert", ["new"]),
        ("insert", ["new"]),
    ]
    assert await setup.col.find_one({"_id": "new"}) == {"_id": "new", "version": 1}


async def test_concurrent_writes_share_one_round_trip_and_get_their_own_results(
    setup: Setup,
) -> None:
    coalescer = WriteCoalescer(setup.col)
    ids = await seeded(setup, 30)
    # Even documents: the guard holds. Odd ones: it misses (the version is not 7).
    writes = [
        coalescer.update(*version_guarded(d, 1 if n % 2 == 0 else 7, by=n), fetch=n % 3 == 0)
        for n, d in enumerate(ids)
    ]
    results = await asyncio.gather(*writes, coalescer.insert({"_id": "fresh"}))

    for n, (doc_id, result) in enumerate(zip(ids, results, strict=False)):
        assert result.applied == (n % 2 == 0), doc_id
        if result.applied and n % 3 == 0:
            assert result.doc is not None
            assert (result.doc["_id"], result.doc["version"], result.doc["by"]) == (doc_id, 2, n)
        else:
            assert result.doc is None
    assert results[-1] is None  # the insert
    # One bulk command carried every write; one read told the misses and fetched documents.
    assert [(s.name, len(s.ids)) for s in setup.commands.sent] == [
        ("insert", 1),
        ("update", 30),
        ("find", 30),
    ]
    stored = {d["_id"]: d async for d in setup.col.find({})}
    for n, doc_id in enumerate(ids):
        assert stored[doc_id]["version"] == (2 if n % 2 == 0 else 1)
        assert ("by" in stored[doc_id]) == (n % 2 == 0)
    assert "fresh" in stored


async def test_when_every_guard_holds_no_read_back_is_needed(setup: Setup) -> None:
    coalescer = WriteCoalescer(setup.col)
    ids = await seeded(setup, 12)
    results = await asyncio.gather(*(coalescer.update(*version_guarded(d, 1)) for d in ids))
    assert results == [Updated(True)] * 12
    assert [s.name for s in setup.commands.sent] == ["update"]


async def test_writes_queued_while_a_batch_is_in_flight_go_out_together_next(
    setup: Setup,
) -> None:
    coalescer = WriteCoalescer(setup.col, max_batch=8)
    ids = await seeded(setup, 21)
    first = asyncio.create_task(coalescer.update(*version_guarded(ids[0], 1)))
    await wait_for(lambda: setup.commands.in_flight)
    rest = [coalescer.update(*version_guarded(d, 1)) for d in ids[1:]]
    results = await asyncio.gather(first, *rest)

    assert results == [Updated(True)] * 21
    assert [len(s.ids) for s in setup.commands.named("update")] == [1, 8, 8, 4]
    assert setup.commands.most_in_flight == 1


async def test_writes_of_one_document_never_share_a_batch(setup: Setup) -> None:
    coalescer = WriteCoalescer(setup.col)
    ids = await seeded(setup, 3)
    # Five writes of d000 in a row, each guarded by the version the previous one leaves.
    same = [coalescer.update(*version_guarded(ids[0], v)) for v in range(1, 6)]
    others = [coalescer.update(*version_guarded(d, 1)) for d in ids[1:]]
    results = await asyncio.gather(*same, *others)

    assert results == [Updated(True)] * 7  # in submission order, each one's guard held
    batches = setup.commands.named("update")
    assert all(len(b.ids) == len(set(b.ids)) for b in batches)
    assert [b.ids.count(ids[0]) for b in batches] == [1] * 5
    doc = await setup.col.find_one({"_id": ids[0]})
    assert doc is not None
    assert (doc["version"], doc["status"]) == (6, "v6")


async def test_a_write_error_fails_only_its_own_write(setup: Setup) -> None:
    coalescer = WriteCoalescer(setup.col)
    await setup.col.create_index("code", unique=True, sparse=True)
    await setup.col.insert_many([{"_id": "a", "code": 1}, {"_id": "b"}, {"_id": "c"}])
    setup.commands.sent.clear()
    results = await asyncio.gather(
        coalescer.update({"_id": "b"}, {"$set": {"code": 1}}),  # taken by a
        coalescer.update({"_id": "c"}, {"$set": {"code": 2}}, fetch=True),
        coalescer.insert({"_id": "a"}),  # exists
        coalescer.insert({"_id": "d"}),
        coalescer.update({"_id": "zz"}, {"$set": {"code": 3}}),  # no such document
        return_exceptions=True,
    )
    assert isinstance(results[0], DuplicateKeyError)
    assert isinstance(results[1], Updated)
    assert results[1].applied
    assert results[1].doc is not None
    assert (results[1].doc["_id"], results[1].doc["code"]) == ("c", 2)
    assert isinstance(results[2], DuplicateKeyError)
    assert results[3] is None
    assert results[4] == Updated(False)
    assert [s.name for s in setup.commands.sent] == ["insert", "update", "find"]
    stored = {d["_id"]: d.get("code") async for d in setup.col.find({})}
    assert stored == {"a": 1, "b": None, "c": 2, "d": None}


async def test_an_applied_write_is_recognised_after_another_writer_changed_the_document(
    setup: Setup,
) -> None:
    """Another process writes the document between our batch and its read-back: our write is
    still reported as applied (its mark stays), the missed one as missed."""
    ids = await seeded(setup, 3)
    other = WriteCoalescer(setup.col)

    class Interleaved(WriteCoalescer):
        async def _read_back(self, updates: Any, *, all_matched: bool) -> None:
            assert not all_matched
            # d000 is at version 2 now (our write); the other process moves it to 3, in a
            # batch of its own (so it leaves its own mark).
            theirs = await asyncio.gather(
                other.update(*version_guarded(ids[0], 2)), other.update(*version_guarded(ids[2], 1))
            )
            assert theirs == [Updated(True)] * 2
            await super()._read_back(updates, all_matched=all_matched)

    ours = Interleaved(setup.col)
    applied, missed = await asyncio.gather(
        ours.update(*version_guarded(ids[0], 1), fetch=True),
        ours.update(*version_guarded(ids[1], 5), fetch=True),
    )
    assert applied.applied
    assert applied.doc is not None
    assert (applied.doc["version"], applied.doc["status"]) == (3, "v3")  # at or after ours
    assert missed == Updated(False)

    assert set(applied.doc[MARKS]) == {ours._last_mark.get(ids[0]), other._last_mark.get(ids[0])}

    # Our next write of d000 removes our previous mark and leaves the other writer's.
    assert await ours.update(*version_guarded(ids[0], 3)) == Updated(True)
    doc = await setup.col.find_one({"_id": ids[0]})
    assert doc is not None
    assert (doc["version"], doc[MARKS]) == (4, {other._last_mark.get(ids[0]): 1})


async def test_a_write_whose_caller_stopped_waiting_is_not_sent(setup: Setup) -> None:
    coalescer = WriteCoalescer(setup.col)
    ids = await seeded(setup, 3)
    first = asyncio.create_task(coalescer.update(*version_guarded(ids[0], 1)))
    await wait_for(lambda: setup.commands.in_flight)
    given_up = asyncio.create_task(coalescer.update(*version_guarded(ids[1], 1)))
    kept = asyncio.create_task(coalescer.update(*version_guarded(ids[2], 1)))
    await asyncio.sleep(0)  # both queued behind the batch in flight
    given_up.cancel()
    assert await first == Updated(True)
    assert await kept == Updated(True)
    with pytest.raises(asyncio.CancelledError):
        await given_up
    assert ids[1] not in [i for s in setup.commands.sent for i in s.ids]
    doc = await setup.col.find_one({"_id": ids[1]})
    assert doc is not None
    assert doc["version"] == 1


async def test_many_waves_one_round_trip_at_a_time_and_nothing_lost(setup: Setup) -> None:
    coalescer = WriteCoalescer(setup.col, max_batch=16)
    ids = await seeded(setup, 40)

    async def advance(doc_id: str, times: int) -> None:
        for version in range(1, times + 1):
            assert await coalescer.update(*version_guarded(doc_id, version)) == Updated(True)

    await asyncio.gather(*(advance(d, 1 + n % 5) for n, d in enumerate(ids)))
    stored = {d["_id"]: d["version"] async for d in setup.col.find({})}
    assert stored == {d: 2 + n % 5 for n, d in enumerate(ids)}
    updates = setup.commands.named("update")
    assert sum(len(s.ids) for s in updates) == sum(1 + n % 5 for n in range(40))
    assert len(updates) < 40  # shared round trips
    assert max(len(s.ids) for s in updates) <= 16
    assert setup.commands.most_in_flight == 1


# --- a lost connection -----------------------------------------------------------------------


@pytest.fixture
def private_mongo() -> Iterator[EmbeddedMongo]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedMongo(Path(tmp)) as server:
        yield server


async def test_a_lost_connection_fails_every_write_of_the_batch(
    private_mongo: EmbeddedMongo,
) -> None:
    client: AsyncMongoClient[Doc] = mongo_client(
        private_mongo.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500
    )
    try:
        col = client["t"]["c"]
        ids = await seed(col, 5)
        coalescer = WriteCoalescer(col)
        assert await coalescer.update(*version_guarded(ids[0], 1)) == Updated(True)
        private_mongo.stop()
        results = await asyncio.gather(
            *(coalescer.update(*version_guarded(d, 1)) for d in ids[1:]),
            coalescer.insert({"_id": "x"}),
            return_exceptions=True,
        )
        assert len(results) == 5
        assert all(isinstance(r, TRANSIENT_ERRORS) for r in results), results
    finally:
        await client.close()


# --- against a model -------------------------------------------------------------------------

write = st.tuples(
    st.integers(0, 5),  # which document
    st.integers(1, 4),  # the version the guard expects
    st.booleans(),  # fetch
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(writes=st.lists(write, min_size=1, max_size=30), max_batch=st.integers(1, 8))
def test_results_match_applying_the_writes_one_by_one(
    mongo_url: str, writes: list[tuple[int, int, bool]], max_batch: int
) -> None:
    """Concurrent guarded writes give each caller what the same writes applied one at a time,
    in the order they were made, would give: same guard outcomes, same documents."""

    async def run() -> None:
        client: AsyncMongoClient[Doc] = mongo_client(mongo_url)
        db = client[f"t_{uuid.uuid4().hex[:12]}"]
        try:
            col = db["h"]
            await col.insert_many([{"_id": f"d{n}", "version": 1, "log": []} for n in range(6)])
            coalescer = WriteCoalescer(col, max_batch=max_batch)
            results = await asyncio.gather(
                *(
                    coalescer.update(
                        {"_id": f"d{d}", "version": v},
                        {"$inc": {"version": 1}, "$set": {f"by.w{i}": i}},
                        fetch=fetch,
                    )
                    for i, (d, v, fetch) in enumerate(writes)
                )
            )
            model = {f"d{n}": {"version": 1, "by": {}} for n in range(6)}
            for i, ((d, v, fetch), result) in enumerate(zip(writes, results, strict=True)):
                doc = model[f"d{d}"]
                applies = doc["version"] == v
                if applies:
                    doc["version"] += 1
                    doc["by"][f"w{i}"] = i
                assert result.applied == applies
                if applies and fetch:
                    assert result.doc is not None
                    assert result.doc["version"] == doc["version"]
                else:
                    assert result.doc is None
            stored = {
                d["_id"]: {"version": d["version"], "by": d.get("by", {})}
                async for d in col.find({})
            }
            assert stored == model
        finally:
            await client.drop_database(db.name)
            await client.close()

    asyncio.run(run())
