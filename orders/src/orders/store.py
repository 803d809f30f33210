"""MongoDB access of the orders service: menu items with their stock, orders, idempotency keys.

Stock follows DESIGN.md §3: one conditional update per item. A reservation is the map entry
`reservations.<order id>` (`{q: quantity, t: epoch ms}`), added together with the decrement
only if the stock suffices and the order holds none yet, and removed exactly once, either
returning the quantity (release) or keeping it sold (settle).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from sagakit.clock import now_ms
from sagakit.coalesce import WriteCoalescer
from sagakit.outbox import Collection, Document

MENU_FIELDS = {"name": 1, "description": 1, "category": 1, "price_cents": 1, "stock": 1}


class MenuStore:
    """Menu items and their stock. Prices are read through a cache of `price_cache_s`: a
    price change takes effect within that time (at once in the process that made it)."""

    def __init__(self, items: Collection, *, price_cache_s: float = 1.0) -> None:
        # Stock writes are not coalesced: a dozen items take every reservation, and a batch
        # holds at most one write per document, so hot items would wait a round trip per
        # write (measured: POST p99 several times higher at 40 orders/s).
        self.items = items
        self._price_cache_s = price_cache_s
        self._priced: dict[str, Document] = {}
        self._priced_until = 0.0
        # One read refreshes the prices for every request that needs them meanwhile.
        self._pricing: asyncio.Future[dict[str, Document]] | None = None

    async def ensure_indexes(self) -> None:
        await self.items.create_index([("category", ASCENDING), ("name", ASCENDING)])

    async def seed(self, menu: list[dict[str, Any]], stock: int) -> int:
        """Insert the default items that do not exist yet; returns how many were added."""
        added = 0
        for item in menu:
            fields = {k: v for k, v in item.items() if k != "id"}
            result = await self.items.update_one(
                {"_id": item["id"]},
                {"$setOnInsert": {**fields, "stock": stock, "reservations": {}, "version": 1}},
                upsert=True,
            )
            added += result.upserted_id is not None
        return added

    async def menu(self) -> list[Document]:
        cursor = self.items.find({}, MENU_FIELDS).sort([("category", 1), ("name", 1)])
        return [doc async for doc in cursor]

    async def by_ids(self, item_ids: list[str]) -> dict[str, Document]:
        """Name and price of the given items (those that exist), for pricing an order."""
        priced = self._priced
        if time.monotonic() >= self._priced_until or not set(item_ids) <= set(priced):
            if self._pricing is None or self._pricing.done():
                self._pricing = asyncio.ensure_future(self._load_prices())
            priced = await asyncio.shield(self._pricing)
        return {item_id: priced[item_id] for item_id in item_ids if item_id in priced}

    async def _load_prices(self) -> dict[str, Document]:
        pricing = self._pricing
        priced = {doc["_id"]: doc async for doc in self.items.find({}, MENU_FIELDS)}
        if pricing is self._pricing:  # not forgotten meanwhile by a change of this process
            self._priced = priced
            self._priced_until = time.monotonic() + self._price_cache_s
        return priced

    def _forget_prices(self) -> None:
        self._priced_until = 0.0
        self._pricing = None

    async def create(self, item_id: str, fields: dict[str, Any]) -> bool:
        try:
            await self.items.insert_one(
                {"_id": item_id, **fields, "reservations": {}, "version": 1}
            )
        except DuplicateKeyError:
            return False
        self._forget_prices()
        return True

    async def patch(self, item_id: str, changes: dict[str, Any]) -> Document | None:
        self._forget_prices()
        return await self.items.find_one_and_update(
            {"_id": item_id},
            {"$set": changes, "$inc": {"version": 1}},
            projection=MENU_FIELDS,
            return_document=ReturnDocument.AFTER,
        )

    async def reserve(self, item_id: str, order_id: str, quantity: int) -> bool:
        """Take `quantity` for the order; True also when the order already holds it.

        The second case is a retried request (same Idempotency-Key, so the same order id and
        body) whose first attempt died after reserving: its reservation is reused, not doubled.
        """
        result = await self.items.update_one(
            {
                "_id": item_id,
                "stock": {"$gte": quantity},
                f"reservations.{order_id}": {"$exists": False},
            },
            {
                "$inc": {"stock": -quantity},
                "$set": {f"reservations.{order_id}": {"q": quantity, "t": now_ms()}},
            },
        )
        if result.modified_count == 1:
            return True
        held = {"_id": item_id, f"reservations.{order_id}": {"$exists": True}}
        return await self.items.count_documents(held, limit=1) == 1

    async def release(self, item_id: str, order_id: str, quantity: int) -> bool:
        """Return the reserved quantity to the stock; False when already released or settled."""
        result = await self.items.update_one(
            {"_id": item_id, f"reservations.{order_id}": {"$exists": True}},
            {"$inc": {"stock": quantity}, "$unset": {f"reservations.{order_id}": ""}},
        )
        return result.modified_count == 1

    async def settle_sold(self, item_id: str, order_id: str) -> bool:
        """Forget the reservation and keep the stock sold; False when already done."""
        result = await self.items.update_one(
            {"_id": item_id, f"reservations.{order_id}": {"$exists": True}},
            {"$unset": {f"reservations.{order_id}": ""}},
        )
        return result.modified_count == 1

    async def reservations_older_than(self, cutoff_ms: int) -> list[tuple[str, str, int]]:
        """(item id, order id, quantity) of reservations made before `cutoff_ms`."""
        found: list[tuple[str, str, int]] = []
        async for item in self.items.find({}, {"reservations": 1}):
            for order_id, reservation in (item.get("reservations") or {}).items():
                if int(reservation.get("t", 0)) < cutoff_ms:
                    found.append((item["_id"], order_id, int(reservation["q"])))
        return found

    async def refill(self, item_id: str, run_id: str, *, to: int | None, add: int | None) -> int:
        """Top one item up (to a level, or by an amount) once per run; returns what was added.

        Guarded by the stock level read just before, so a concurrent reservation makes the
        update miss and it is computed again rather than overwriting a sale.
        """
        for _ in range(20):
            item = await self.items.find_one({"_id": item_id}, {"stock": 1, "last_refill_run": 1})
            if item is None or item.get("last_refill_run") == run_id:
                return 0
            current = int(item["stock"])
            delta = max(0, to - current) if to is not None else int(add or 0)
            result = await self.items.update_one(
                {"_id": item_id, "stock": current, "last_refill_run": {"$nin": [run_id]}},
                {"$inc": {"stock": delta, "version": 1}, "$set": {"last_refill_run": run_id}},
            )
            if result.modified_count == 1:
                return delta
        raise RuntimeError(f"refill of {item_id} kept losing to concurrent updates")

    async def levels(self, item_ids: list[str] | None = None) -> dict[str, int]:
        query: Document = {"_id": {"$in": item_ids}} if item_ids else {}
        return {doc["_id"]: int(doc["stock"]) async for doc in self.items.find(query, {"stock": 1})}

    async def all_ids(self) -> list[str]:
        return [doc["_id"] async for doc in self.items.find({}, {"_id": 1})]


class Claim(Enum):
    NEW = "new"  # this request owns the key now
    TAKEN_OVER = "taken_over"  # the first request died in flight: this one finishes it
    DONE = "done"  # answered before: replay the stored response
    IN_FLIGHT = "in_flight"  # the first request is still being handled
    MISMATCH = "mismatch"  # the key was used with another body


@dataclass(frozen=True)
class KeyClaim:
    claim: Claim
    order_id: str
    response: str | None = None
    # NEW / TAKEN_OVER: this attempt's token; the key is this attempt's while it is recorded.
    attempt: str = ""


class IdempotencyStore:
    """`Idempotency-Key` records: the key bound to a hash of the body and the order it made.

    Each attempt that owns a key (the first, or one that took over a key left in flight too
    long) records its own token in `attempt`. A superseded attempt may still be running:
    it may give the key up (`abandon`) or go on to create the order (`owns`) only while its
    token is still the recorded one.
    """

    def __init__(self, keys: Collection) -> None:
        self.keys = keys
        # A key's first write and its answer, batched with those of concurrent requests.
        self._writes = WriteCoalescer(keys)

    async def claim(
        self, key: str, body_hash: str, order_id: str, *, stale_after_ms: int
    ) -> KeyClaim:
        now = now_ms()
        attempt = uuid.uuid4().hex
        try:
            await self._writes.insert(
                {
                    "_id": key,
                    "body_hash": body_hash,
                    "order_id": order_id,
                    "started_ms": now,
                    "attempt": attempt,
                }
            )
            return KeyClaim(Claim.NEW, order_id, attempt=attempt)
        except DuplicateKeyError:
            pass
        existing = await self.keys.find_one({"_id": key})
        if existing is None:  # removed after a failed attempt: try again
            return await self.claim(key, body_hash, order_id, stale_after_ms=stale_after_ms)
        if existing["body_hash"] != body_hash:
            return KeyClaim(Claim.MISMATCH, existing["order_id"])
        if existing.get("response") is not None:
            return KeyClaim(Claim.DONE, existing["order_id"], existing["response"])
        started = int(existing["started_ms"])
        if now - started < stale_after_ms:
            return KeyClaim(Claim.IN_FLIGHT, existing["order_id"])
        taken = await self.keys.update_one(
            {"_id": key, "started_ms": started, "response": {"$exists": False}},
            {"$set": {"started_ms": now, "attempt": attempt}},
        )
        if taken.modified_count == 1:
            return KeyClaim(Claim.TAKEN_OVER, existing["order_id"], attempt=attempt)
        return KeyClaim(Claim.IN_FLIGHT, existing["order_id"])

    async def ensure_indexes(self) -> None:
        await self.keys.create_index("started_ms")

    async def forget_older_than(self, retention_ms: int) -> int:
        """Delete the records of keys first used (or last taken over) more than `retention_ms`
        ago; how many. A client retrying after that long gets a new order."""
        cutoff = now_ms() - retention_ms
        forgotten = await self.keys.delete_many({"started_ms": {"$lt": cutoff}})
        return int(forgotten.deleted_count)

    async def owns(self, key: str, attempt: str) -> bool:
        """Whether the key is still this attempt's (not answered, given up or taken over)."""
        held = {"_id": key, "attempt": attempt, "response": {"$exists": False}}
        return await self.keys.count_documents(held, limit=1) == 1

    async def complete(self, key: str, order_id: str, response: str) -> None:
        """Record the answer, unless the key was given up and claimed for another order."""
        await self._writes.update(
            {"_id": key, "order_id": order_id}, {"$set": {"response": response}}
        )

    async def abandon(self, key: str, attempt: str) -> bool:
        """Free the key after an attempt that changed nothing (e.g. out of stock); False when
        the key is no longer this attempt's, which then must leave everything to its owner."""
        freed = await self.keys.delete_one(
            {"_id": key, "attempt": attempt, "response": {"$exists": False}}
        )
        return freed.deleted_count == 1
