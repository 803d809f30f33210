"""MongoDB access of the notifications service: the status timeline and each order's head.

`timeline` holds one document per (order, version), `_id = "<order id>:<version:06d>"`, so a
duplicate event inserts nothing. `order_heads` holds what customers see, `{_id: order id,
version, status, reason?, at, updated_ms}`; it only moves forward, one guarded write at a time
(`version` must still be the one read), to the end of the consecutive run of stored versions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from notifications.domain import StatusEntry, consecutive_after
from saga_contracts.messages import CancelReason, OrderStatus, OrderStatusChanged
from sagakit.clock import now_ms, to_ms
from sagakit.outbox import Collection, Document, DocumentStore, Transition
from sagakit.publisher import Publisher

TIMELINE = "timeline"
HEADS = "order_heads"
# Orders see about eight statuses; this only bounds a pathological backlog per read.
MAX_RUN = 1000
# Concurrent replicas can each miss the guard once per version they race on.
MAX_ADVANCE_ATTEMPTS = 50


def timeline_id(order_id: str, version: int) -> str:
    return f"{order_id}:{version:06d}"


def entry_from_doc(doc: Document) -> StatusEntry:
    return StatusEntry(
        order_id=doc["order_id"],
        version=int(doc["version"]),
        status=doc["status"],
        reason=doc.get("reason"),
        at=doc["at"],
    )


@dataclass(frozen=True, slots=True)
class Head:
    order_id: str
    version: int
    status: str
    reason: str | None
    at: str
    updated_ms: int

    @classmethod
    def from_doc(cls, doc: Document) -> Head:
        return cls(
            order_id=doc["_id"],
            version=int(doc["version"]),
            status=doc["status"],
            reason=doc.get("reason"),
            at=doc["at"],
            updated_ms=int(doc.get("updated_ms", 0)),
        )


class AdvanceContention(RuntimeError):
    """The head kept moving under us; the delivery is retried."""


class TrackingStore:
    def __init__(self, timeline: Collection, heads: Collection, publisher: Publisher) -> None:
        self.timeline = timeline
        self.heads = heads
        # Head writes carry no events (the fan-out is pub/sub, not a stream): the store is used
        # for its guarded single-document writes.
        self._heads = DocumentStore(heads, publisher)

    async def ensure_indexes(self) -> None:
        await self.timeline.create_index(
            [("order_id", ASCENDING), ("version", ASCENDING)], unique=True
        )
        await self.heads.create_index("updated_ms")
        await self.heads.create_index("status")

    async def record(self, event: OrderStatusChanged) -> list[StatusEntry]:
        """Store the event in the timeline and advance the head: the versions that became
        visible, in order (empty for a duplicate, a stale version, or one that must wait)."""
        doc: Document = {
            "_id": timeline_id(event.order_id, event.version),
            "order_id": event.order_id,
            "version": event.version,
            "status": event.status.value,
            "at": event.at.isoformat(),
            "at_ms": to_ms(event.at),
        }
        if event.reason is not None:
            doc["reason"] = event.reason.value
        # Stored before (a redelivery, or a crash before the head moved): advance anyway.
        with contextlib.suppress(DuplicateKeyError):
            await self.timeline.insert_one(doc)
        return await self.advance(event.order_id)

    async def advance(self, order_id: str) -> list[StatusEntry]:
        for _ in range(MAX_ADVANCE_ATTEMPTS):
            current = await self.heads.find_one({"_id": order_id}, {"version": 1})
            head_version = int(current["version"]) if current else 0
            waiting = await self.entries(order_id, after=head_version)
            visible = consecutive_after(head_version, (e.version for e in waiting))
            if not visible:
                return []
            applied = [e for e in waiting if e.version <= visible[-1]]
            if await self._move_head(order_id, head_version, applied[-1], exists=bool(current)):
                return applied
        raise AdvanceContention(f"head of {order_id} kept moving")

    async def _move_head(
        self, order_id: str, expected: int, to: StatusEntry, *, exists: bool
    ) -> bool:
        fields: Document = {
            "version": to.version,
            "status": to.status,
            "at": to.at,
            "updated_ms": now_ms(),
        }
        reason: Document = {"reason": to.reason} if to.reason is not None else {}
        if not exists:
            return await self._heads.insert({"_id": order_id, **fields, **reason})
        # Never a null reason: removed when the new status has none.
        transition = Transition(
            expect={"version": expected},
            set={**fields, **reason},
            unset=() if reason else ("reason",),
        )
        return await self._heads.apply(order_id, transition) is not None

    async def head(self, order_id: str) -> Head | None:
        doc = await self.heads.find_one({"_id": order_id})
        return Head.from_doc(doc) if doc else None

    async def entries(
        self, order_id: str, *, after: int, upto: int | None = None
    ) -> list[StatusEntry]:
        """Stored versions in (after, upto], ascending; with `upto`, only applied ones if
        `upto` is at most the head's version."""
        bounds: dict[str, int] = {"$gt": after}
        if upto is not None:
            bounds["$lte"] = upto
        cursor = (
            self.timeline.find({"order_id": order_id, "version": bounds})
            .sort("version", ASCENDING)
            .limit(MAX_RUN)
        )
        return [entry_from_doc(doc) async for doc in cursor]

    async def recent(self, limit: int) -> list[Head]:
        cursor = self.heads.find({}).sort("updated_ms", DESCENDING).limit(limit)
        return [Head.from_doc(doc) async for doc in cursor]

    async def outcomes(self) -> dict[str, Any]:
        """How many orders are at each status, and why the cancelled ones were cancelled."""
        by_status = {
            s.value: await self.heads.count_documents({"status": s.value}) for s in OrderStatus
        }
        cancelled = OrderStatus.CANCELLED.value
        by_reason = {
            r.value: await self.heads.count_documents({"status": cancelled, "reason": r.value})
            for r in CancelReason
        }
        return {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "cancelled_by_reason": by_reason,
        }
