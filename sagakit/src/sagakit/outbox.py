"""One atomic document write per state change, with its events in the document's outbox.

A `Transition` is a single conditional update: it matches only when the document still has
the expected fields (status, version, ...) and has not yet consumed the triggering message,
and in the same write it applies the change, records the consumed message and adds the
events to emit under `outbox.<event id>`. After the write the relay publishes the outbox with
XADD and removes the published entries (in batched background writes); the sweeper
republishes entries a crash left behind, found through the indexed `outbox_since` field.

Writes go through a `WriteCoalescer`: concurrent transitions of different documents share
one `bulk_write` round trip, each still one atomic conditional update of its document with
its own exact result (see sagakit.coalesce).

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

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from sagakit.clock import now_ms
from sagakit.coalesce import WriteCoalescer
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


@dataclass
class _Cleanup:
    """Published entries of one document whose removal is not written yet, and when the
    removal is due (loop time) unless a write of the document removes them first."""

    due: float
    event_ids: set[str] = field(default_factory=set)
    head: str | None = None


class OutboxRelay:
    """Publishes a document's outbox after its write; removes published entries cheaply.

    Removal costs no write of its own in the common case: the next guarded write of the same
    document removes the entries published since the previous one (`take_published`). What
    is left `cleanup_delay_s` after a document's last publish (its last write, usually) is
    removed with one coalesced write per document, which also clears the sweeper's marker
    unless events were added after those published. The delay counts per document: pending
    removals are kept in the order of their last publish, so their due times ascend.
    """

    def __init__(
        self,
        collection: Collection,
        publisher: Publisher,
        *,
        cleanup_delay_s: float = 1.0,
        writes: WriteCoalescer | None = None,
    ) -> None:
        self.collection = collection
        self._writes = writes or WriteCoalescer(collection)
        self._publisher = publisher
        self._cleanup_delay_s = cleanup_delay_s
        self._pending: dict[Any, _Cleanup] = {}
        self._writing: dict[Any, _Cleanup] = {}  # held back by `take_published`
        self._flusher: asyncio.Task[None] | None = None
        self._removing: asyncio.Future[None] | None = None  # the flusher's batch under way
        # Published, removal not yet written: a later write of the same document still shows
        # them in its outbox, and must not publish them again.
        self._published: set[str] = set()

    async def relay(self, doc: Mapping[str, Any]) -> bool:
        """Publish every pending event of `doc`; False when that failed (the sweeper retries)."""
        return await self._publish(doc) is not None

    async def _publish(self, doc: Mapping[str, Any]) -> int | None:
        """How many events of `doc` were published now (those published already, removal
        pending, are not published again); None when publishing failed."""
        events = [e for e in pending_events(doc) if e[0] not in self._published]
        if not events:
            return 0
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
            return None
        event_ids = [event_id for event_id, _, _ in events]
        # Moved to the end, with a new due time: the order of `_pending` is that of due times.
        cleanup = self._pending.pop(doc["_id"], None) or _Cleanup(due=0.0)
        cleanup.due = self._due()
        cleanup.event_ids.update(event_ids)
        cleanup.head = doc.get(OUTBOX_HEAD)
        self._pending[doc["_id"]] = cleanup
        self._published.update(event_ids)
        self._ensure_flusher()
        return len(event_ids)

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later())

    def take_published(self, doc_id: Any) -> list[str]:
        """Entries of `doc_id` a write may remove now; call `removed` or `restore` after it.

        Until then the document's pending removal is held back: a removal written while the
        write is under way would be wasted (the write removes the entries and, if it emits
        events, replaces the sweeper's marker).
        """
        cleanup = self._pending.pop(doc_id, None)
        if cleanup is None:
            return []
        taken = sorted(cleanup.event_ids)
        cleanup.event_ids.clear()
        self._writing[doc_id] = cleanup
        return taken

    def removed(self, doc_id: Any, event_ids: list[str]) -> None:
        """The write removed these entries from their document."""
        self._published.difference_update(event_ids)
        self._after_write(doc_id, [])

    def restore(self, doc_id: Any, event_ids: list[str]) -> None:
        """The write that was to remove these entries did not happen."""
        self._after_write(doc_id, event_ids)

    def _after_write(self, doc_id: Any, event_ids: list[str]) -> None:
        """The removal held back for a write is pending again (with the entries it did not
        remove), due a delay from now."""
        held = self._writing.pop(doc_id, None)
        if held is None and not event_ids:
            return
        pending = self._pending.get(doc_id)
        if pending is None:
            pending = held or _Cleanup(due=0.0)
            pending.due = self._due()
            self._pending[doc_id] = pending
            self._ensure_flusher()
        pending.event_ids.update(event_ids)

    def _due(self) -> float:
        return asyncio.get_running_loop().time() + self._cleanup_delay_s

    async def _flush_later(self) -> None:
        """Write removals as they fall due, until none is pending."""
        loop = asyncio.get_running_loop()
        while self._pending:
            wait = next(iter(self._pending.values())).due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            now = loop.time()
            due: dict[Any, _Cleanup] = {}
            for doc_id, cleanup in self._pending.items():
                if cleanup.due > now:
                    break
                due[doc_id] = cleanup
            for doc_id in due:
                del self._pending[doc_id]
            # Shielded: `drain` cancelling the flusher must not abort removals under way; it
            # waits for them instead.
            self._removing = asyncio.ensure_future(self._write_removals(due))
            await asyncio.shield(self._removing)

    async def flush(self) -> None:
        """Write every pending removal now."""
        while self._pending:
            batch, self._pending = self._pending, {}
            await self._write_removals(batch)

    async def _write_removals(self, batch: dict[Any, _Cleanup]) -> None:
        if batch:
            try:
                outcomes = await asyncio.gather(
                    *(self._remove(doc_id, cleanup) for doc_id, cleanup in batch.items()),
                    return_exceptions=True,
                )
            finally:
                self._published.difference_update(
                    e for cleanup in batch.values() for e in cleanup.event_ids
                )
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            if failed:
                if not all(isinstance(o, PyMongoError) for o in failed):
                    raise failed[0]
                # Harmless: the entries stay and the sweeper publishes them again later.
                log.warning(
                    "outbox cleanup failed", error=describe(failed[0]), documents=len(failed)
                )

    async def _remove(self, doc_id: Any, cleanup: _Cleanup) -> None:
        entries = {f"{OUTBOX}.{event_id}": "" for event_id in cleanup.event_ids}
        # The sweeper's marker goes too, unless events were added after those published.
        marker = {OUTBOX_SINCE: "", OUTBOX_HEAD: ""}
        done = await self._writes.update(
            {"_id": doc_id, OUTBOX_HEAD: cleanup.head}, {"$unset": {**entries, **marker}}
        )
        if not done.applied and entries:
            await self._writes.update({"_id": doc_id}, {"$unset": entries})

    async def drain(self) -> None:
        """Write pending removals now (tests, shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._removing is not None and not self._removing.done():
            await self._removing
        await self.flush()

    async def sweep(self, *, older_than: timedelta = timedelta(seconds=5), limit: int = 500) -> int:
        """Republish outboxes whose write is older than `older_than`: left behind by a crash.
        Returns (and counts in the metric) the events actually published again."""
        cutoff = now_ms() - int(older_than.total_seconds() * 1000)
        swept = 0
        relayed: list[Any] = []
        cursor = self.collection.find({OUTBOX_SINCE: {"$lte": cutoff}}).limit(limit)
        async for doc in cursor:
            published = await self._publish(doc)
            if published is not None:
                swept += published
                relayed.append(doc["_id"])
        if swept:
            OUTBOX_SWEPT.labels(self.collection.name).inc(swept)
            log.info("swept outbox entries", collection=self.collection.name, events=swept)
        # What was swept is removed now; other documents' removals keep their due time.
        await self._write_removals(
            {doc_id: self._pending.pop(doc_id) for doc_id in relayed if doc_id in self._pending}
        )
        return swept


class DocumentStore:
    """Guarded writes to one collection, each followed by the relay of its outbox."""

    def __init__(
        self,
        collection: Collection,
        publisher: Publisher,
        *,
        cleanup_delay_s: float = 1.0,
        max_batch: int = 200,
    ) -> None:
        self.collection = collection
        self.writes = WriteCoalescer(collection, max_batch=max_batch)
        self.relay = OutboxRelay(
            collection, publisher, cleanup_delay_s=cleanup_delay_s, writes=self.writes
        )

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(OUTBOX_SINCE, sparse=True)

    async def insert(self, doc: Document, emit: Sequence[Emit] = ()) -> bool:
        """Create a document with its first events; False when `_id` already exists."""
        full = {**doc, **_nested(outbox_fields(emit))}
        try:
            await self.writes.insert(full)
        except DuplicateKeyError:
            return False
        await self.relay.relay(full)
        return True

    async def apply(self, doc_id: Any, transition: Transition) -> Document | None:
        """Apply the transition if its guards hold: the document after it, else None.

        The document is read right after the write: it holds this write, and possibly later
        ones by other writers. The same write removes outbox entries of this document
        published since its last write.
        """
        update = transition.update()
        published = self.relay.take_published(doc_id)
        if published:
            unset = update.setdefault("$unset", {})
            unset.update({f"{OUTBOX}.{event_id}": "" for event_id in published})
        try:
            written = await self.writes.update(transition.filter(doc_id), update, fetch=True)
        except BaseException:
            self.relay.restore(doc_id, published)
            raise
        if not written.applied:
            self.relay.restore(doc_id, published)
            return None
        self.relay.removed(doc_id, published)
        doc = written.doc
        if doc is None:  # deleted right after the write: nothing left to relay
            return None
        if transition.emit:
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
