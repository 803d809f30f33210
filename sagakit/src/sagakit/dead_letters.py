"""The dead-letter streams: `dlq.<stream>` holds what a group gave up on, with the reason.

The original entry's fields are kept verbatim (as one JSON field, so any field names survive),
which is what replay appends back to the original stream. When the give-up follows an exception,
the record also keeps its type, message and last frames (`FailureDetails`); records written
before those fields existed decode with them empty.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from sagakit.envelope import utcnow
from sagakit.failure_details import NO_DETAILS, FailureDetails
from sagakit.metrics import DEAD_LETTERED
from sagakit.replies import entries

DLQ_PREFIX = "dlq."


def dlq_stream(stream: str) -> str:
    return f"{DLQ_PREFIX}{stream}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_id: str
    stream: str
    original_id: str
    group: str
    reason: str
    error: str
    deliveries: int
    at: str
    fields: dict[str, str]
    failure: FailureDetails = NO_DETAILS

    def as_dict(self) -> dict[str, Any]:
        return {
            "dlq_id": self.dlq_id,
            "stream": self.stream,
            "original_id": self.original_id,
            "group": self.group,
            "reason": self.reason,
            "error": self.error,
            "deliveries": self.deliveries,
            "at": self.at,
            "fields": self.fields,
            **self.failure.as_record(),
        }


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _decode(stream: str, dlq_id: str, raw: Mapping[str, str]) -> DeadLetter:
    try:
        fields = orjson.loads(raw.get("fields", "{}"))
    except orjson.JSONDecodeError:
        fields = {}
    return DeadLetter(
        dlq_id=dlq_id,
        stream=stream,
        original_id=raw.get("original_id", ""),
        group=raw.get("group", ""),
        reason=raw.get("reason", ""),
        error=raw.get("error", ""),
        deliveries=_int(raw.get("deliveries")),
        at=raw.get("at", ""),
        fields=fields if isinstance(fields, dict) else {},
        failure=FailureDetails.from_record(raw),
    )


class DeadLetters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def send(
        self,
        *,
        stream: str,
        group: str,
        entry_id: str,
        fields: Mapping[str, str] | None,
        reason: str,
        error: str,
        deliveries: int,
        failure: FailureDetails = NO_DETAILS,
    ) -> None:
        """Append to the dead-letter stream and acknowledge the original, atomically."""
        record = {
            "original_id": entry_id,
            "group": group,
            "reason": reason,
            "error": error[:2000],
            "deliveries": str(deliveries),
            "at": utcnow().isoformat(),
            "fields": orjson.dumps(dict(fields or {})).decode(),
        }
        if failure != NO_DETAILS:
            record.update(failure.as_record())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dlq_stream(stream), record)  # type: ignore[arg-type]
            pipe.xack(stream, group, entry_id)
            await pipe.execute()
        DEAD_LETTERED.labels(stream, group, reason).inc()

    async def streams(self) -> list[str]:
        """Original stream names that have a dead-letter stream."""
        found: list[str] = []
        async for key in self._redis.scan_iter(match=f"{DLQ_PREFIX}*", _type="stream"):
            found.append(key.removeprefix(DLQ_PREFIX))
        return sorted(found)

    async def count(self, stream: str) -> int:
        return int(await self._redis.xlen(dlq_stream(stream)))

    async def list(self, stream: str, *, count: int = 100, after: str = "-") -> list[DeadLetter]:
        found = entries(
            await self._redis.xrange(dlq_stream(stream), min=after, max="+", count=count)
        )
        return [_decode(stream, dlq_id, raw or {}) for dlq_id, raw in found]

    async def replay(self, stream: str, dlq_ids: Sequence[str] | None = None) -> int:
        """Append entries back to the original stream and remove them from the dead letters.

        Each entry moves in one MULTI, so a crash never loses or doubles it.
        """
        letters = await self._select(stream, dlq_ids)
        for letter in letters:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(stream, letter.fields)  # type: ignore[arg-type]
                pipe.xdel(dlq_stream(stream), letter.dlq_id)
                await pipe.execute()
        return len(letters)

    async def purge(self, stream: str, dlq_ids: Sequence[str] | None = None) -> int:
        if dlq_ids is None:
            removed = int(await self._redis.xlen(dlq_stream(stream)))
            await self._redis.delete(dlq_stream(stream))
            return removed
        return int(await self._redis.xdel(dlq_stream(stream), *dlq_ids)) if dlq_ids else 0

    async def _select(
        self, stream: str, dlq_ids: Sequence[str] | None
    ) -> builtins.list[DeadLetter]:
        if dlq_ids is None:
            letters: builtins.list[DeadLetter] = []
            after = "-"
            while True:
                page = await self.list(stream, count=500, after=after)
                letters.extend(page)
                if len(page) < 500:
                    return letters
                after = "(" + page[-1].dlq_id
        wanted: builtins.list[DeadLetter] = []
        for dlq_id in dlq_ids:
            found = entries(await self._redis.xrange(dlq_stream(stream), min=dlq_id, max=dlq_id))
            wanted.extend(_decode(stream, i, raw or {}) for i, raw in found)
        return wanted
