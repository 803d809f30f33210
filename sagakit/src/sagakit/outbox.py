"""One atomic document write per state change, with its events in the document's outbox.

A `Transition` is a single conditional update: it matches only when the document still has
the expected fields (status, version, ...) and has not yet consumed the triggering message,
and in the same write it applies the change, records the consumed message and adds the
events to emit under `outbox.<event id>`. After the write the relay publishes the outbox with
XADD and removes the published entries (in batched background writes); the sweeper
republishes entries a crash left behind, found through the indexed `outbox_since` field.

Publishing is at-least-once (a crash between XADD and cleanup republishes); consumers make
effects exactly-once with their own guarded transitions. No multi-document transaction is
used, and only operators covered by the MongoDB contract test (dotted `$set`/`$unset`,
`$exists`, `$inc`, equality and range filters, `bulk_write`) appear here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from sagakit.clock import now_ms
from sagakit.envelope import Envelope
from sagakit.logs import describe, get_logger
from sagakit.metrics import OUTBOX_SWEPT
from sagakit.publisher import Publisher

log = get_logger("sagakit.outbox")

Document = dict[str, Any]
Collection = AsyncCollection[Document]
OUTBOX = "outbox"
OUTBOX_SINCE = "outbox_since"
OUTBOX_HEAD = "outbox_head"
CONSUMED = "consumed"


@dataclass(frozen=True)
class Emit:
    """An event to publish on `stream` once the write that produced it has committed."""

    stream: str
    envelope: Envelope


@dataclass(frozen=True)
class Transition:
    """A guarded single-document state change.

    `expect` holds equality guards (e.g. status and version); `consumed` is the id of the
    message that triggered the change, so a redelivered message no longer matches.
    """

    expect: Mapping[str, Any] = field(default_factory=dict)
    set: Mapping[str, Any] = field(default_factory=dict)
    unset: Sequence[str] = ()
    inc: Mapping[str, int] = field(default_factory=dict)
    emit: Sequence[Emit] = ()
    consumed: str | None = None
    extra_filter: Mapping[str, Any] = field(default_factory=dict)

    def filter(self, doc_id: Any) -> Document:
        query: Document = {"_id": doc_id, **self.expect, **self.extra_filter}
        if self.consumed is not None:
            query[f"{CONSUMED}.{self.consumed}"] = {"$exists": False}
        return query

    def update(self) -> Document:
        to_set: Document = dict(self.set)
        if self.consumed is not None:
            to_set[f"{CONSUMED}.{self.consumed}"] = True
        to_set.update(outbox_fields(self.emit))
        update: Document = {}
        if to_set:
            update["$set"] = to_set
        if self.unset:
            update["$unset"] = dict.fromkeys(self.unset, "")
        if self.inc:
            update["$inc"] = dict(self.inc)
        if not update:
            raise ValueError("a transition must change something")
        return update


def outbox_fields(emit: Sequence[Emit]) -> Document:
    """The `$set` entries that put events in the outbox (empty when there are none)."""
    if not emit:
        return {}
    fields: Document = {
        f"{OUTBOX}.{e.envelope.id}": {"stream": e.stream, "fields": e.envelope.to_fields()}
        for e in emit
    }
    fields[OUTBOX_SINCE] = now_ms()
    fields[OUTBOX_HEAD] = emit[-1].envelope.id
    return fields


def pending_events(doc: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(event id, stream, fields) of the document's outbox, in the order they were emitted."""
    entries = doc.get(OUTBOX) or {}
    found = [(event_id, e["stream"], e["fields"]) for event_id, e in entries.items()]
    found.sort(key=lambda e: (int(e[2].get("version", 0)), e[2].get("occurred_at", "")))
    return found


class OutboxRelay:
    """Publishes a document's outbox after its write; removes published entries in batches."""

    def __init__(self, collection: Collection, publisher: Publisher) -> None:
        self.collection = collection
        self._publisher = publisher
        self._cleanup: list[UpdateOne] = []
        self._cleanup_ids: list[str] = []
        self._cleaner: asyncio.Task[None] | None = None
        # Published, cleanup not yet written: a later write of the same document still shows
        # them in its outbox, and must not publish them again.
        self._awaiting_cleanup: set[str] = set()

    async def relay(self, doc: Mapping[str, Any]) -> bool:
        """Publish every pending event of `doc`; False when that failed (the sweeper retries)."""
        events = [e for e in pending_events(doc) if e[0] not in self._awaiting_cleanup]
        if not events:
            return True
        try:
            await self._publisher.publish_many_raw(
                [(stream, fields) for _, stream, fields in events]
            )
        except Exception as exc:
            log.warning(
                "outbox publish failed; the sweeper will retry",
                doc_id=str(doc["_id"]),
                error=describe(exc),
            )
            return False
        self._schedule_cleanup(doc, [event_id for event_id, _, _ in events])
        return True

    def _schedule_cleanup(self, doc: Mapping[str, Any], event_ids: list[str]) -> None:
        unset: Document = {f"{OUTBOX}.{event_id}": "" for event_id in event_ids}
        # Clear the sweeper's marker only if no event was added after the ones just published.
        self._cleanup.append(UpdateOne({"_id": doc["_id"]}, {"$unset": unset}))
        self._cleanup.append(
            UpdateOne(
                {"_id": doc["_id"], OUTBOX_HEAD: doc.get(OUTBOX_HEAD)},
                {"$unset": {OUTBOX_SINCE: "", OUTBOX_HEAD: ""}},
            )
        )
        self._cleanup_ids.extend(event_ids)
        self._awaiting_cleanup.update(event_ids)
        if self._cleaner is None or self._cleaner.done():
            self._cleaner = asyncio.create_task(self._clean_until_empty())

    async def _clean_until_empty(self) -> None:
        while self._cleanup:
            batch, self._cleanup = self._cleanup, []
            published, self._cleanup_ids = self._cleanup_ids, []
            try:
                await self.collection.bulk_write(batch, ordered=True)
            except PyMongoError as exc:
                # Harmless: the entries stay and the sweeper publishes them again later.
                log.warning("outbox cleanup failed", error=describe(exc), writes=len(batch))
            finally:
                self._awaiting_cleanup.difference_update(published)

    async def drain(self) -> None:
        """Wait for scheduled cleanups (tests, shutdown)."""
        while self._cleaner is not None and not self._cleaner.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._cleaner)

    async def sweep(self, *, older_than: timedelta = timedelta(seconds=5), limit: int = 500) -> int:
        """Republish outboxes whose write is older than `older_than`: left behind by a crash."""
        cutoff = now_ms() - int(older_than.total_seconds() * 1000)
        swept = 0
        cursor = self.collection.find({OUTBOX_SINCE: {"$lte": cutoff}}).limit(limit)
        async for doc in cursor:
            if await self.relay(doc):
                swept += len(pending_events(doc))
        if swept:
            OUTBOX_SWEPT.labels(self.collection.name).inc(swept)
            log.info("swept outbox entries", collection=self.collection.name, events=swept)
        await self.drain()
        return swept


class DocumentStore:
    """Guarded writes to one collection, each followed by the relay of its outbox."""

    def __init__(self, collection: Collection, publisher: Publisher) -> None:
        self.collection = collection
        self.relay = OutboxRelay(collection, publisher)

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(OUTBOX_SINCE, sparse=True)

    async def insert(self, doc: Document, emit: Sequence[Emit] = ()) -> bool:
        """Create a document with its first events; False when `_id` already exists."""
        full = {**doc, **_nested(outbox_fields(emit))}
        try:
            await self.collection.insert_one(full)
        except DuplicateKeyError:
            return False
        await self.relay.relay(full)
        return True

    async def apply(self, doc_id: Any, transition: Transition) -> Document | None:
        """Apply the transition if its guards hold: the document after it, else None."""
        doc = await self.collection.find_one_and_update(
            transition.filter(doc_id), transition.update(), return_document=ReturnDocument.AFTER
        )
        if doc is not None and transition.emit:
            await self.relay.relay(doc)
        return doc


def _nested(dotted: Document) -> Document:
    """`{"outbox.e1": x, "outbox_since": t}` → `{"outbox": {"e1": x}, "outbox_since": t}`."""
    nested: Document = {}
    for key, value in dotted.items():
        head, dot, tail = key.partition(".")
        if dot:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[key] = value
    return nested
