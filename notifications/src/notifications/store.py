"""MongoDB access of the notifications service: one document per order in `order_heads`.

    {_id: order id, version, status, reason?, at, updated_ms,
     timeline: {"v000001": {status, at, reason?}, "v000002": {...}, ...}}

`timeline` holds every stored version, keyed by `version_key` (never a purely numeric key: a
server may take it for an array index); the head fields say what customers see, and only the
versions up to `version` are shown. An order whose first stored version must wait for an
earlier one has `version: 0` and no other head field until that one arrives.

While a stored version waits for a missing earlier one, `waiting_since_ms` says since when;
the reconciler (`repair.py`) asks orders to publish the missing versions again and records
when in `repair_asked_ms`.

The head moves forward only, one guarded write at a time (`version` must still be the one
read), to the end of the consecutive run of stored versions. In the common case, an event
arriving in order, one guarded write both stores the version and moves the head to it: this
process remembers the head it last saw (`KnownHeads`), and presumes the head is at the
previous version; the guard catches a wrong presumption, which then costs a few more commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import DESCENDING

from notifications.domain import FirstWrite, StatusEntry, consecutive_after, first_write
from saga_contracts.messages import CancelReason, OrderStatus, OrderStatusChanged
from sagakit.clock import now_ms
from sagakit.outbox import Collection, Document, DocumentStore, Transition
from sagakit.publisher import Publisher
from sagakit.recent import Recent
from sagakit.version_keys import key_version, version_key

HEADS = "order_heads"
TIMELINE = "timeline"  # the field holding the stored versions
WAITING_SINCE = "waiting_since_ms"  # present while a stored version waits for an earlier one
REPAIR_ASKED = "repair_asked_ms"  # when the missing versions were last asked for again
TERMINAL = [status.value for status in OrderStatus if status.terminal]
# Concurrent replicas can each miss the guard once per version they race on.
MAX_ATTEMPTS = 50


def stored_entries(doc: Document) -> dict[int, StatusEntry]:
    """Every version stored in the order's document, applied or waiting, by version."""
    found: dict[int, StatusEntry] = {}
    for key, fields in (doc.get(TIMELINE) or {}).items():
        version = key_version(key)
        if version is not None:
            found[version] = StatusEntry(
                order_id=doc["_id"],
                version=version,
                status=fields["status"],
                reason=fields.get("reason"),
                at=fields["at"],
            )
    return found


def head_version(doc: Document) -> int:
    return int(doc.get("version", 0))


def entry_of(event: OrderStatusChanged) -> StatusEntry:
    return StatusEntry(
        order_id=event.order_id,
        version=event.version,
        status=event.status.value,
        reason=event.reason.value if event.reason is not None else None,
        at=event.at.isoformat(),
    )


def entry_fields(entry: StatusEntry) -> Document:
    fields: Document = {"status": entry.status, "at": entry.at}
    if entry.reason is not None:  # never a null reason
        fields["reason"] = entry.reason
    return fields


def head_fields(entry: StatusEntry) -> Document:
    return {"version": entry.version, "updated_ms": now_ms(), **entry_fields(entry)}


def first_document(entry: StatusEntry, *, applied: bool) -> Document:
    """The document of an order whose first stored version is `entry`."""
    head = head_fields(entry) if applied else {"version": 0}
    return {
        "_id": entry.order_id,
        **head,
        TIMELINE: {version_key(entry.version): entry_fields(entry)},
    }


def move_head(entry: StatusEntry, *, expected: int, store: bool = False) -> Transition:
    """Move the head from `expected` to `entry`; with `store`, store `entry` in the same write,
    provided no version of that number was stored before (the first stored one is kept)."""
    expect: Document = {"version": expected}
    fields = head_fields(entry)
    if store:
        path = f"{TIMELINE}.{version_key(entry.version)}"
        expect[path] = {"$exists": False}
        fields[path] = entry_fields(entry)
    # Removed when the new status has none.
    return Transition(
        expect=expect, set=fields, unset=() if entry.reason is not None else ("reason",)
    )


def store_waiting(entry: StatusEntry) -> Transition:
    """Store `entry` if it is neither applied nor stored yet; the head does not move."""
    path = f"{TIMELINE}.{version_key(entry.version)}"
    return Transition(
        expect={"version": {"$lt": entry.version}, path: {"$exists": False}},
        set={path: entry_fields(entry)},
    )


def waiting_mark(doc: Document, now: int) -> Transition | None:
    """The write that makes `waiting_since_ms` say whether a stored version waits (None when it
    says so already), guarded by the head it was decided on."""
    head = head_version(doc)
    waiting = any(version > head for version in stored_entries(doc))
    if waiting and WAITING_SINCE not in doc:
        return Transition(
            expect={"version": head, WAITING_SINCE: {"$exists": False}},
            set={WAITING_SINCE: now},
        )
    if not waiting and WAITING_SINCE in doc:
        return Transition(expect={"version": head}, unset=(WAITING_SINCE,))
    return None


@dataclass(frozen=True, slots=True)
class Head:
    order_id: str
    version: int
    status: str
    reason: str | None
    at: str
    updated_ms: int

    @classmethod
    def from_doc(cls, doc: Document | None) -> Head | None:
        """What customers see of the order; None while no version is applied."""
        if doc is None or head_version(doc) < 1:
            return None
        return cls(
            order_id=doc["_id"],
            version=head_version(doc),
            status=doc["status"],
            reason=doc.get("reason"),
            at=doc["at"],
            updated_ms=int(doc.get("updated_ms", 0)),
        )


@dataclass(frozen=True, slots=True)
class TrackedOrder:
    head: Head
    timeline: list[StatusEntry]  # applied versions only, ascending


class KnownHeads:
    """The head of each recent order as this process last saw it, each time at a moment when
    no stored version was waiting right after it.

    Heads never go back, so a remembered head may be behind the real one, never ahead: a version
    at or below it needs no command at all, and a presumption based on it is checked by the
    guard of the write.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._heads: Recent[str, int] = Recent(capacity)

    def get(self, order_id: str) -> int | None:
        return self._heads.get(order_id)

    def saw(self, order_id: str, version: int) -> None:
        known = self._heads.get(order_id)
        self._heads.put(order_id, version if known is None else max(version, known))


class AdvanceContention(RuntimeError):
    """The head kept moving under us; the delivery is retried."""


class TrackingStore:
    def __init__(self, heads: Collection, publisher: Publisher) -> None:
        self.heads = heads
        # The writes carry no events (the fan-out is pub/sub, not a stream): the store is used
        # for its guarded single-document writes.
        self._heads = DocumentStore(heads, publisher)
        self.known = KnownHeads()

    async def ensure_indexes(self) -> None:
        await self.heads.create_index("updated_ms")
        await self.heads.create_index("status")
        await self.heads.create_index(WAITING_SINCE)
        await self.heads.create_index(REPAIR_ASKED)

    async def record(self, event: OrderStatusChanged) -> list[StatusEntry]:
        """Store the event's version and advance the head: the versions that became visible, in
        order (empty for a duplicate, a stale version, or one that must wait)."""
        entry = entry_of(event)
        order_id = entry.order_id
        step = first_write(entry.version, self.known.get(order_id))
        if step is FirstWrite.NONE:
            return []
        applied: list[StatusEntry] = []
        doc: Document | None = None
        if step is FirstWrite.CREATE:
            created = first_document(entry, applied=True)
            if await self._heads.insert(created):
                doc, applied = created, [entry]
        else:
            move = move_head(entry, expected=entry.version - 1, store=True)
            doc = await self._heads.apply(order_id, move)
            applied = [entry] if doc is not None else []
        if doc is None:  # not in order, or seen before: store it, then see what it unblocks
            doc = await self._store(entry)
        # Versions stored early, now next in line. Also repairs a run left waiting by a crash
        # between a store and the head write (that event is redelivered).
        more, doc = await self._catch_up(order_id, doc)
        mark = waiting_mark(doc, now_ms())
        if mark is not None:  # a miss: the head moved meanwhile, and its mover marks it
            await self._heads.apply(order_id, mark)
        self.known.saw(order_id, head_version(doc))
        return [*applied, *more]

    async def _store(self, entry: StatusEntry) -> Document:
        """Store `entry` unless it is applied or stored already: the order's document after."""
        for _ in range(MAX_ATTEMPTS):
            doc = await self._heads.apply(entry.order_id, store_waiting(entry))
            if doc is not None:
                return doc
            doc = await self.heads.find_one({"_id": entry.order_id})
            if doc is None:
                first = first_document(entry, applied=False)
                if await self._heads.insert(first):
                    return first
            elif head_version(doc) >= entry.version or version_key(entry.version) in (
                doc.get(TIMELINE) or {}
            ):
                return doc
            # The document was created in between: store again.
        raise AdvanceContention(f"could not store v{entry.version} of {entry.order_id}")

    async def _catch_up(self, order_id: str, doc: Document) -> tuple[list[StatusEntry], Document]:
        """Advance the head through the stored versions next in line: those newly applied (by
        this call) and the document seen last, when nothing stored was next in line any more."""
        applied: list[StatusEntry] = []
        for _ in range(MAX_ATTEMPTS):
            head = head_version(doc)
            stored = stored_entries(doc)
            visible = consecutive_after(head, stored)
            if not visible:
                return applied, doc
            after = await self._heads.apply(order_id, move_head(stored[visible[-1]], expected=head))
            if after is not None:
                applied.extend(stored[v] for v in visible)
                doc = after
                continue
            fresh = await self.heads.find_one({"_id": order_id})
            if fresh is None:
                raise AdvanceContention(f"the document of {order_id} vanished")
            doc = fresh
        raise AdvanceContention(f"head of {order_id} kept moving")

    async def needing_repair(
        self, *, waiting_before_ms: int, stale_before_ms: int, asked_before_ms: int, limit: int
    ) -> dict[str, int]:
        """Orders (id → head version) whose live view may miss a version: a stored version
        waiting since before `waiting_before_ms`, or a non-terminal head not updated since
        `stale_before_ms`; none asked about since `asked_before_ms`. At most `limit`."""
        stuck: list[Document] = [
            {WAITING_SINCE: {"$lt": waiting_before_ms}},
            {"updated_ms": {"$lt": stale_before_ms}, "status": {"$nin": TERMINAL}},
        ]
        not_asked: list[Document] = [
            {REPAIR_ASKED: {"$exists": False}},
            {REPAIR_ASKED: {"$lt": asked_before_ms}},
        ]
        found: dict[str, int] = {}
        for condition in stuck:
            for asked in not_asked:
                left = limit - len(found)
                if left <= 0:
                    return found
                cursor = self.heads.find({**condition, **asked}, {"version": 1}).limit(left)
                async for doc in cursor:
                    found.setdefault(doc["_id"], head_version(doc))
        return found

    async def mark_repair_asked(self, order_id: str, head: int, now: int) -> bool:
        """Record the question; False when the head has moved since (no need to ask)."""
        mark = Transition(expect={"version": head}, set={REPAIR_ASKED: now})
        return await self._heads.apply(order_id, mark) is not None

    async def head(self, order_id: str) -> Head | None:
        return Head.from_doc(await self.heads.find_one({"_id": order_id}, {TIMELINE: 0}))

    async def tracked(
        self, order_id: str, *, after: int = 0, upto: int | None = None
    ) -> TrackedOrder | None:
        """The head and the applied versions in (after, upto] (upto: the head by default), in
        one read; None while no version of the order is applied."""
        doc = await self.heads.find_one({"_id": order_id})
        head = Head.from_doc(doc)
        if doc is None or head is None:
            return None
        last = head.version if upto is None else min(upto, head.version)
        stored = stored_entries(doc)
        timeline = [stored[v] for v in sorted(stored) if after < v <= last]
        return TrackedOrder(head, timeline)

    async def recent(self, limit: int) -> list[Head]:
        # Only orders with an applied version have `updated_ms`.
        cursor = (
            self.heads.find({"updated_ms": {"$gt": 0}}, {TIMELINE: 0})
            .sort("updated_ms", DESCENDING)
            .limit(limit)
        )
        return [head async for doc in cursor if (head := Head.from_doc(doc)) is not None]

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
