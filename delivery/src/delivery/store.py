"""MongoDB access: the `deliveries` collection (one document per order, with its outbox) and
the `couriers` collection (the fleet).

deliveries: {_id: order id, status, address, created_ms, updated_ms, version, courier_id (once
assigned), deadline_at (while waiting), detail (failed), request_id, traceparent, consumed,
outbox...}. couriers: {_id, name, status: idle|busy, order_id and claimed_ms (only while busy),
version}. Every queried time is epoch ms; nothing guarded is ever null (fields are unset).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from delivery.domain import CourierStatus, DeliveryState, Status
from sagakit.clock import now_ms
from sagakit.coalesce import WriteCoalescer
from sagakit.deadlines import DEADLINE_AT
from sagakit.envelope import Envelope
from sagakit.outbox import DocumentStore, Transition
from sagakit.publisher import Publisher

Document = dict[str, Any]
Collection = AsyncCollection[Document]

DUPLICATE_KEY = 11000
COURIER_NAMES = (
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Kofi", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
)  # fmt: skip


def state_of(doc: Document) -> DeliveryState:
    return DeliveryState(Status(doc["status"]), doc.get("courier_id"))


def _origin(request: Envelope) -> Document:
    """Which message created the delivery: events emitted later without a triggering message
    (deadline, assignment sweep) name it as their cause and carry its trace."""
    origin: Document = {"request_id": request.id}
    if request.traceparent:
        origin["traceparent"] = request.traceparent
    return origin


def waiting_delivery(
    order_id: str, address: str, *, now: int, deadline: int, request: Envelope
) -> Document:
    return {
        "_id": order_id,
        "status": Status.WAITING.value,
        "address": address,
        "created_ms": now,
        "updated_ms": now,
        "version": 1,
        DEADLINE_AT: deadline,
        **_origin(request),
    }


def cancelled_before_request(order_id: str, *, now: int) -> Document:
    """A cancel that arrived before its delivery request: a later request finds it ended."""
    return {
        "_id": order_id,
        "status": Status.CANCELLED.value,
        "created_ms": now,
        "updated_ms": now,
        "version": 1,
    }


class Deliveries:
    def __init__(
        self, collection: Collection, publisher: Publisher, *, cleanup_delay_s: float = 1.0
    ) -> None:
        self.collection = collection
        # Published outbox entries are removed by the document's next write, or after this
        # delay in one batched write.
        self._documents = DocumentStore(collection, publisher, cleanup_delay_s=cleanup_delay_s)

    async def ensure_indexes(self) -> None:
        await self._documents.ensure_indexes()
        await self.collection.create_index([("status", ASCENDING), ("created_ms", ASCENDING)])

    async def create(self, doc: Document) -> bool:
        """Insert a new delivery; False when one already exists for that order."""
        return await self._documents.insert(doc)

    async def get(self, order_id: str) -> Document | None:
        return await self.collection.find_one({"_id": order_id})

    async def get_many(self, order_ids: Sequence[str]) -> dict[str, Document]:
        if not order_ids:
            return {}
        cursor = self.collection.find({"_id": {"$in": list(order_ids)}})
        return {doc["_id"]: doc async for doc in cursor}

    async def apply(self, order_id: str, transition: Transition) -> Document | None:
        return await self._documents.apply(order_id, transition)

    async def oldest_waiting(self, limit: int) -> list[Document]:
        cursor = (
            self.collection.find({"status": Status.WAITING.value})
            .sort("created_ms", ASCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def waiting_before(self, created_ms: int) -> bool:
        """Whether a delivery older than `created_ms` is still waiting (it goes first)."""
        found = await self.collection.find_one(
            {"status": Status.WAITING.value, "created_ms": {"$lt": created_ms}}, {"_id": 1}
        )
        return found is not None

    async def sweep_outbox(self, older_than_s: float) -> int:
        return await self._documents.relay.sweep(older_than=timedelta(seconds=older_than_s))


class Fleet:
    """The couriers. A courier is claimed atomically (idle → busy holding one order) and freed
    only by a write guarded with the order it holds."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._writes = WriteCoalescer(collection)  # releases, batched with concurrent ones

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("status")
        await self.collection.create_index("order_id", sparse=True)

    async def seed(self, size: int) -> None:
        """Create the missing couriers `courier-01`…; existing ones are left as they are."""
        if size == 0:
            return
        upserts = [
            UpdateOne(
                {"_id": courier_id(n)},
                {
                    "$setOnInsert": {
                        "name": courier_name(n),
                        "status": CourierStatus.IDLE.value,
                        "version": 0,
                    }
                },
                upsert=True,
            )
            for n in range(1, size + 1)
        ]
        try:
            await self.collection.bulk_write(upserts, ordered=False)
        except BulkWriteError as exc:  # another replica seeded the same couriers at once
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise

    async def held_for(self, order_id: str) -> str | None:
        """A courier already holding this order (claimed by an attempt a crash interrupted)."""
        doc = await self.collection.find_one(
            {"status": CourierStatus.BUSY.value, "order_id": order_id}, {"_id": 1}
        )
        return None if doc is None else str(doc["_id"])

    async def claim_idle(self, order_id: str) -> str | None:
        doc = await self.collection.find_one_and_update(
            {"status": CourierStatus.IDLE.value},
            {
                "$set": {
                    "status": CourierStatus.BUSY.value,
                    "order_id": order_id,
                    "claimed_ms": now_ms(),
                },
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else str(doc["_id"])

    async def release(self, courier: str, order_id: str) -> bool:
        """Free `courier` if it still holds `order_id`; True when it was freed now."""
        result = await self._writes.update(
            {"_id": courier, "order_id": order_id},
            {
                "$set": {"status": CourierStatus.IDLE.value},
                "$unset": {"order_id": "", "claimed_ms": ""},
                "$inc": {"version": 1},
            },
        )
        return result.applied

    async def count_idle(self, up_to: int) -> int:
        """How many couriers are idle, counting no further than `up_to`.

        A bounded find rather than `count_documents`: the count is an aggregation, which the
        embedded server answers by loading every matching courier (~20 ms for 1,000 idle ones).
        """
        cursor = self.collection.find({"status": CourierStatus.IDLE.value}, {"_id": 1}, limit=up_to)
        return len([doc async for doc in cursor])

    async def busy(self) -> list[Document]:
        cursor = self.collection.find({"status": CourierStatus.BUSY.value})
        return [doc async for doc in cursor]

    async def all(self) -> list[Document]:
        return [doc async for doc in self.collection.find({}).sort("_id", ASCENDING)]


def courier_id(n: int) -> str:
    return f"courier-{n:02d}"


def courier_name(n: int) -> str:
    name = COURIER_NAMES[(n - 1) % len(COURIER_NAMES)]
    round_ = (n - 1) // len(COURIER_NAMES)
    return name if round_ == 0 else f"{name} {round_ + 1}"
