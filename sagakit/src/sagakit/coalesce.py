"""Concurrent single-document writes to one collection, sent together as one `bulk_write`.

Every write stays what it was: one conditional update (or insert) of one document, atomic on
that document (DESIGN.md §3). Only the round trip is shared. While a batch is in flight, new
writes queue; when it returns, everything queued goes out as the next batch (at most
`max_batch`, never two writes of the same `_id`). An idle coalescer sends at once, and a
batch of one is sent as the plain command it replaces (`update_one`, `find_one_and_update`,
`insert_one`), so there is no added latency and no added command when there is no concurrency.

Per-write results. `bulk_write` reports only how many updates matched. When all of them did,
each caller learns "applied". Otherwise the batch reads its documents back once
(`find({_id: {$in: ...}})`) and each write is recognised by a mark it set in the same atomic
update: `_writes.<token>`, a token unique to that write. A mark is present if and only if that
write applied, whatever other writers (other processes, uncoalesced writes) did meanwhile,
because nobody else removes it: each coalescer removes only its own previous mark of a
document, in its next write of that document. So at most one stale mark per writing process
stays on a document. A caller that asked for the document (`fetch`) gets it as read back right
after the batch: it includes its write and possibly later ones by other writers.

Errors. A write error at index i (e.g. a duplicate key) fails only write i, raised as the same
exception the single command would raise. Any other failure (connection lost, timeout) fails
every write of the batch: as with a single command, the outcome is unknown, and the callers'
guards make the retry safe. A caller that stops waiting (cancelled) has its write dropped if
it has not been sent yet.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteConcernError, WriteError

from sagakit.metrics import WRITE_BATCH_SIZE
from sagakit.recent import Recent

Document = dict[str, Any]
Collection = AsyncCollection[Document]

MARKS = "_writes"  # {token: 1} of the writes that applied, one per writing process at most
DUPLICATE_KEY = 11000


@dataclass(frozen=True, slots=True)
class Updated:
    """The result of one conditional update."""

    applied: bool
    # With `fetch`, when applied: the document read after the write (None if it vanished).
    doc: Document | None = None


@dataclass(eq=False, slots=True)
class _Write:
    doc_id: Any
    future: asyncio.Future[Any]
    filter: Document | None = None  # an update: filter, update and whether to read back
    update: Document | None = None
    fetch: bool = False
    insert: Document | None = None  # an insert: the document


class WriteCoalescer:
    """Conditional single-document writes to `collection`, batched under concurrency."""

    def __init__(
        self, collection: Collection, *, max_batch: int = 200, remembered: int = 50_000
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.collection = collection
        self._max_batch = max_batch
        self._queue: deque[_Write] = deque()
        self._sending = False
        self._sender: asyncio.Task[None] | None = None
        self._prefix = "w" + secrets.token_hex(4)
        self._counter = itertools.count(1)
        # The mark this coalescer last left on each document, removed by its next write there.
        self._last_mark: Recent[Any, str] = Recent(remembered)

    async def update(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], *, fetch: bool = False
    ) -> Updated:
        """Apply `update` to the document `filter` selects (it must name the `_id`), if it
        matches. With `fetch`, also return the document after the write."""
        doc_id = filter.get("_id")
        if doc_id is None or isinstance(doc_id, Mapping):
            raise ValueError("a coalesced update must select one document by its _id")
        if not update or not all(key.startswith("$") for key in update):
            raise ValueError("a coalesced update must be a non-empty operator document")
        write = _Write(doc_id, self._future(), filter=dict(filter), update=dict(update))
        write.fetch = fetch
        result: Updated = await self._submit(write)
        return result

    async def insert(self, doc: Mapping[str, Any]) -> None:
        """Insert `doc` (it must have an `_id`); raises DuplicateKeyError like `insert_one`."""
        if "_id" not in doc:
            raise ValueError("a coalesced insert needs an _id")
        await self._submit(_Write(doc["_id"], self._future(), insert=dict(doc)))

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _submit(self, write: _Write) -> Any:
        self._queue.append(write)
        if not self._sending:
            self._sending = True
            self._sender = asyncio.create_task(self._send_queued())
        return await write.future

    async def _send_queued(self) -> None:
        batch: list[_Write] = []
        try:
            while batch := self._next_batch():
                WRITE_BATCH_SIZE.labels(self.collection.name).observe(len(batch))
                if len(batch) == 1:
                    await self._send_one(batch[0])
                else:
                    await self._send_batch(batch)
        except BaseException:  # cancelled (shutdown): nobody is left to send the rest
            for write in [*batch, *self._queue]:
                write.future.cancel()
            self._queue.clear()
            raise
        finally:
            self._sending = False

    def _next_batch(self) -> list[_Write]:
        """The oldest queued writes, at most one per document; the others stay queued."""
        batch: list[_Write] = []
        ids: set[Any] = set()
        later: deque[_Write] = deque()
        while self._queue and len(batch) < self._max_batch:
            write = self._queue.popleft()
            if write.future.done():  # its caller stopped waiting: not sent
                continue
            if write.doc_id in ids:
                later.append(write)
            else:
                ids.add(write.doc_id)
                batch.append(write)
        later.extend(self._queue)
        self._queue = later
        return batch

    def _decorated(self, write: _Write, token: str | None) -> Document:
        """The update with this coalescer's previous mark removed and (`token`) a new one."""
        assert write.update is not None
        update = dict(write.update)
        previous = self._last_mark.get(write.doc_id)
        if previous is not None:
            update["$unset"] = {**update.get("$unset", {}), f"{MARKS}.{previous}": ""}
        if token is not None:
            update["$set"] = {**update.get("$set", {}), f"{MARKS}.{token}": 1}
        return update

    def _applied(self, write: _Write, token: str | None) -> None:
        if token is None:
            self._last_mark.pop(write.doc_id)
        else:
            self._last_mark.put(write.doc_id, token)

    async def _send_one(self, write: _Write) -> None:
        """A batch of one: the plain command, with its exact result."""
        try:
            if write.insert is not None:
                await self.collection.insert_one(write.insert)
                result: Any = None
            elif write.fetch:
                assert write.filter is not None
                doc = await self.collection.find_one_and_update(
                    write.filter,
                    self._decorated(write, None),
                    return_document=ReturnDocument.AFTER,
                )
                result = Updated(doc is not None, doc)
            else:
                assert write.filter is not None
                outcome = await self.collection.update_one(
                    write.filter, self._decorated(write, None)
                )
                result = Updated(outcome.matched_count == 1)
        except Exception as exc:
            _fail(write, exc)
            return
        if isinstance(result, Updated) and result.applied:
            self._applied(write, None)
        _succeed(write, result)

    async def _send_batch(self, batch: list[_Write]) -> None:
        tokens = [None if w.insert is not None else self._new_token() for w in batch]
        requests = [self._request(w, token) for w, token in zip(batch, tokens, strict=True)]
        failed: set[int] = set()
        try:
            result = await self.collection.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:
            # Some writes failed on their own: each update left is checked by its mark.
            failed = self._fail_write_errors(batch, exc.details)
            all_matched = False
        except Exception as exc:
            for write in batch:
                _fail(write, exc)
            return
        else:
            all_matched = result.matched_count == sum(1 for t in tokens if t is not None)
        updates: list[tuple[_Write, str]] = []
        for index, (write, token) in enumerate(zip(batch, tokens, strict=True)):
            if index in failed:
                continue
            if token is None:
                _succeed(write, None)  # an insert
            elif all_matched:
                self._applied(write, token)
                if write.fetch:
                    updates.append((write, token))
                else:
                    _succeed(write, Updated(True))
            else:
                updates.append((write, token))
        if updates:
            await self._read_back(updates, all_matched=all_matched)

    async def _read_back(self, updates: list[tuple[_Write, str]], *, all_matched: bool) -> None:
        """Which updates applied (by their marks, unless `all_matched`), and the documents of
        those that asked for them, in one read."""
        fetch = any(write.fetch for write, _ in updates)
        try:
            cursor = self.collection.find(
                {"_id": {"$in": [write.doc_id for write, _ in updates]}},
                None if fetch else {MARKS: 1},
            )
            docs = {doc["_id"]: doc async for doc in cursor}
        except Exception as exc:
            for write, _ in updates:  # written or not: unknown, as after a lost connection
                _fail(write, exc)
            return
        for write, token in updates:
            doc = docs.get(write.doc_id)
            applied = all_matched or (doc is not None and token in (doc.get(MARKS) or {}))
            if applied and not all_matched:
                self._applied(write, token)
            _succeed(write, Updated(applied, doc if applied and write.fetch else None))

    def _request(self, write: _Write, token: str | None) -> InsertOne[Document] | UpdateOne:
        if write.insert is not None:
            return InsertOne(write.insert)
        assert write.filter is not None
        return UpdateOne(write.filter, self._decorated(write, token))

    def _new_token(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"

    @staticmethod
    def _fail_write_errors(batch: list[_Write], details: Mapping[str, Any]) -> set[int]:
        """Fail the writes the server rejected; their indexes."""
        failed: set[int] = set()
        for error in details.get("writeErrors", []):
            index = int(error["index"])
            _fail(batch[index], _write_error(error))
            failed.add(index)
        concern = details.get("writeConcernErrors") or []
        if concern:  # written, but not as durably as asked: fail as the single command would
            first = concern[0]
            for write in batch:
                _fail(write, WriteConcernError(str(first.get("errmsg", "")), None, first))
            failed.update(range(len(batch)))
        return failed


def _succeed(write: _Write, result: Any) -> None:
    if not write.future.done():
        write.future.set_result(result)


def _fail(write: _Write, exc: BaseException) -> None:
    if not write.future.done():
        write.future.set_exception(exc)


def _write_error(error: Mapping[str, Any]) -> WriteError:
    """The exception the single command would have raised for this write error."""
    message = str(error.get("errmsg", "write error"))
    code = error.get("code")
    details = dict(error)
    if code == DUPLICATE_KEY:
        return DuplicateKeyError(message, code, details)
    return WriteError(message, code, details)
